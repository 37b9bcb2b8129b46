using {consumer as db} from '../db/schema';

/** What this application got from the service key manager. */
@path    : '/odata/v4/consumer'
@requires: 'authenticated-user'
service ConsumerService {
  @readonly
  entity Keys           as projection on db.Keys;

  @readonly
  entity ReceivedEvents as projection on db.ReceivedEvents;

  type Requested {
    provisioning : UUID;
    status       : String;
    serviceKey   : UUID;
    instance     : UUID;
  }

  /** Ask the service key manager for a key (its `provision` action, one template in one subaccount). */
  action requestKey(template : UUID, subaccount : UUID, instanceName : String, keyName : String) returns Requested;

  type DestinationToken {
    destination : String;
    serviceKey  : UUID;
    clientId    : String;
    tokenType   : String;
    expiresIn   : Integer;
  }

  /**
   * Look up a destination the service key manager delivered a key into (SAP Cloud SDK) and take its token:
   * answers whose token it is (the key, its client ID), never the token.
   */
  function destinationToken(name : String) returns DestinationToken;
}
