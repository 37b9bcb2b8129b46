using {btp.provisioning as db} from '../db/schema';

/**
 * Provisions service instances and keys in BTP subaccounts through their Service Manager.
 * Creating or deleting returns at once; the remote work runs in the persistent queue.
 */
@path: '/odata/v4/provisioning'
service ProvisioningService {

  entity Subaccounts      as projection on db.Subaccounts
    actions {
      /** Refresh the cached catalog (offerings, entitled plans) from Service Manager. */
      action syncCatalog() returns Subaccounts;
      /**
       * Compare Service Manager with our records: orphans, vanished objects, stuck records and objects
       * we did not create (to import) become open Findings.
       */
      action sweep()       returns SweepResult;
    };

  type SweepResult {
    orphan    : Integer;
    vanished  : Integer;
    stuck     : Integer;
    unmanaged : Integer;
  }

  @readonly
  entity Findings         as projection on db.Findings
    actions {
      /** Take the object into our records without recreating it (and label it as ours); for a stuck record: read its object again. */
      action adopt()  returns Findings;
      /** Delete the object from Service Manager (orphan, unmanaged), or close a vanished record as Deleted. */
      action remove() returns Findings;
      /** Leave it as it is; later sweeps do not report it again. */
      action ignore() returns Findings;
    };

  @readonly
  entity ServiceOfferings as projection on db.ServiceOfferings;

  @readonly
  entity ServicePlans     as projection on db.ServicePlans;

  entity ServiceInstances as projection on db.ServiceInstances excluding {
    leaseOwner,
    leaseUntil
  }
    actions {
      /** Read the instance from Service Manager again and update its state. */
      action refresh() returns ServiceInstances;
    };

  entity ServiceKeys      as projection on db.ServiceKeys excluding {
    leaseOwner,
    leaseUntil
  }
    actions {
      /** Read the key from Service Manager again and update its state and credential metadata. */
      action refresh() returns ServiceKeys;
      /**
       * Fetch an OAuth token with the key and record the result. For X.509 keys with your own certificate
       * the private key is needed for the mutual TLS handshake; it is used once and never stored.
       */
      action verify(privateKey : LargeString) returns ServiceKeys;
      /**
       * Replace the key: create a new one like it, verify it, move its registrations to the new key and
       * delete the old one once the overlap has passed.
       */
      action rotate() returns ServiceKeys;
      /** The key's credentials, read live from Service Manager (audit-logged). */
      action revealCredentials() returns LargeString;
      /** The key's credentials as the cockpit's service key JSON file (audit-logged). */
      function downloadCredentials() returns LargeBinary @Core.MediaType: 'application/json';
    };

  /**
   * Keys handed to consumers, e.g. a Cloud ALM tenant's landscape management: one active key per consumer
   * and tenant. Deleting a key removes its registrations first.
   */
  entity Registrations    as projection on db.Registrations;

  /** Client certificates (public part only), e.g. an ABAP system's client default certificate. */
  entity Certificates     as projection on db.Certificates {
    *,
    virtual null as daysLeft : Integer
  };

  /** Mark keys and certificates that expire within the warning window, and emit events for them. */
  action scanExpiry() returns {
    keys         : Integer;
    certificates : Integer;
  };

  event KeyExpiring {
    serviceKey : UUID;
    name       : String;
    instance   : UUID;
    subaccount : UUID;
    expiresAt  : Timestamp;
    daysLeft   : Integer;
  }

  event CertificateExpiring {
    certificate : UUID;
    name        : String;
    subject     : String;
    notAfter    : Timestamp;
    daysLeft    : Integer;
  }

  event KeyVerificationFailed {
    serviceKey : UUID;
    name       : String;
    instance   : UUID;
    subaccount : UUID;
    httpStatus : Integer;
    message    : String;
  }

  /** Audit messages could not be delivered and were given up (dead letters); /health reports DEGRADED. */
  event AuditLogDegraded {
    deadLetters : Integer;
    detectedAt  : Timestamp;
  }

  @readonly
  entity Operations       as projection on db.Operations;

  entity Templates        as projection on db.Templates;

  @readonly
  entity LifecycleStates  as projection on db.LifecycleStates;

  @readonly
  entity OperationStates  as projection on db.OperationStates;

  @readonly
  entity VerificationStates as projection on db.VerificationStates;

  @readonly
  entity ExpiryStates     as projection on db.ExpiryStates;

  /**
   * What the signed-in user may do, from their roles: apps hide the actions the service would refuse
   * (annotations refer to it as /Me/...). The `...Hidden` flags are the negations, for UI.Hidden.
   */
  @odata.singleton
  @cds.persistence.skip
  @readonly
  entity Me {
    user                 : String;
    canProvision         : Boolean;
    canReadCredentials   : Boolean;
    canAdminister        : Boolean;
    /** true when the user's `Subaccount` attribute limits them to some subaccounts */
    limitedToSubaccounts : Boolean;
    provisioningHidden   : Boolean;
    credentialsHidden    : Boolean;
    administrationHidden : Boolean;
  }
}
