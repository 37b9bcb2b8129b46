namespace consumer;

using {cuid} from '@sap/cds/common';

/** A key this application asked the service key manager for, with its non-secret fields. */
entity Keys {
  key ID           : UUID;
      name         : String(100);
      instance     : UUID;
      subaccount   : UUID;
      /** the provisioning flow that made the key, when this application asked for it */
      provisioning : UUID;
      state        : String(20);
      credentialType : String(20);
      clientId     : String(255);
      tokenUrl     : String(500);
      apiUrl       : String(500);
      expiresAt    : Timestamp;
      /** the key that replaced this one (KeyRotated) */
      rotatedTo    : UUID;
      deleted      : Boolean default false;
      updatedAt    : Timestamp;
}

/** Every key event received, as it came. */
entity ReceivedEvents : cuid {
  event      : String(40);
  serviceKey : UUID;
  name       : String(100);
  data       : LargeString;
  receivedAt : Timestamp;
}
