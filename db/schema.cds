namespace btp.provisioning;

using {
  cuid,
  managed,
  sap.common.CodeList
} from '@sap/cds/common';

/**
 * Names of service instances and keys. BTP allows at most 32 characters; the service checks that rule
 * itself (with its own message codes), so the column leaves room for the check to see what was sent.
 */
type ResourceName : String(100);
type Guid         : String(36);
type Url          : String(500);
type Message      : String(2000);

/** Lifecycle of everything we create remotely. */
entity LifecycleStates : CodeList {
  key code        : String(20);
      criticality : Integer;
}

/**
 * Shared fields of objects that live in Service Manager. Users change the desired state (`desired`, the spec,
 * `generation`); only the reconciler (srv/orchestrator.ts) changes what was observed (`state`, `smId`,
 * `observedGeneration`, `lastError`), and it concludes a generation only while that generation is current.
 */
aspect Lifecycle {
  /** observed: where the object stands in Service Manager */
  state              : Association to LifecycleStates default 'Creating' @readonly;
  smId               : Guid                                              @readonly;
  /** the Operations row of the current generation */
  lastOperation      : Association to Operations                         @readonly;
  lastError          : Message                                           @readonly;
  /** desired: whether the user wants the object to exist */
  @readonly
  desired            : String(10) enum {
    present;
    absent;
  } default 'present';
  /** bumped by every change a user asks for */
  generation         : Integer default 1                                 @readonly;
  /** the generation the reconciler last concluded (state is final for it) */
  observedGeneration : Integer default 0                                 @readonly;
  /** when the reconciler looks at the object next; null once it is settled */
  reconcileAt        : Timestamp                                         @readonly;
  /** the Service Manager operation in flight for the object (its Location) */
  smOperation        : String(500)                                       @readonly;
  /** the reconciler process working on the object, and until when its lease holds */
  leaseOwner         : String(60)                                        @readonly;
  leaseUntil         : Timestamp                                         @readonly;
  /** failed attempts of the current generation's step */
  attempts           : Integer default 0                                 @readonly;
}

/** A BTP subaccount whose Service Manager we talk to. */
entity Subaccounts : cuid, managed {
  displayName     : String(128) @mandatory;
  /** the subaccount's GUID in BTP */
  subaccountId    : Guid        @mandatory;
  subdomain       : String(128);
  region          : String(32);
  globalAccount   : String(128);
  /** BTP destination holding the Service Manager credentials; locally the embedded emulator */
  destination     : String(128);
  catalogSyncedAt : Timestamp   @readonly;
  health          : String(20)  @readonly;
  offerings       : Association to many ServiceOfferings
                      on offerings.subaccount = $self;
  plans           : Association to many ServicePlans
                      on plans.subaccount = $self;
  instances       : Association to many ServiceInstances
                      on instances.subaccount = $self;
  /** what sweeps found in this subaccount's Service Manager */
  findings        : Association to many Findings
                      on findings.subaccount = $self;
}

/** The subaccount's Service Manager catalog, cached. */
entity ServiceOfferings : cuid {
  subaccount  : Association to Subaccounts;
  name        : String(128);
  description : String(1000);
  smId        : Guid;
  bindable    : Boolean default true;
  plans       : Association to many ServicePlans
                  on plans.offering = $self;
}

/** A plan as Service Manager lists it; plans listed there are the entitled ones. */
entity ServicePlans : cuid {
  subaccount  : Association to Subaccounts;
  offering    : Association to ServiceOfferings;
  name        : String(128);
  description : String(1000);
  smId        : Guid;
  free        : Boolean default false;
  entitled    : Boolean default true;
}

entity ServiceInstances : cuid, managed, Lifecycle {
  subaccount  : Association to Subaccounts @mandatory;
  offering    : Association to ServiceOfferings @readonly;
  /** required; or given by the template */
  plan        : Association to ServicePlans;
  /** other (Service Manager) unless the template or request says otherwise */
  environment : String(20) enum {
    other;
    cloudfoundry;
    kubernetes;
  };
  space       : String(128);
  name        : ResourceName;
  /** JSON object sent to Service Manager as the instance parameters */
  parameters  : LargeString;
  /** JSON object of labels (key -> values) as sent to Service Manager */
  labels      : LargeString @readonly;
  template    : Association to Templates;
  keys        : Association to many ServiceKeys
                  on keys.instance = $self;
  operations  : Association to many Operations
                  on operations.instance = $self;
}

entity ServiceKeys : cuid, managed, Lifecycle {
  instance       : Association to ServiceInstances @mandatory;
  name           : ResourceName;
  credentialType : String(20) enum {
    secret = 'binding-secret';
    x509   = 'x509';
  } default 'binding-secret';
  /** own certificate for X.509 keys (seed 000); without one, XSUAA generates the certificate */
  certificate    : Association to Certificates;
  /** X.509 keys with a generated certificate: key length and validity as Service Manager accepts them */
  keyLength      : Integer enum {
    bits2048 = 2048;
    bits4096 = 4096;
    bits8192 = 8192;
  };
  validity       : Integer;
  validityType   : String(10) enum {
    DAYS;
    MONTHS;
    YEARS;
  };
  /** JSON object sent to Service Manager as the binding parameters (merged over the X.509 defaults) */
  parameters     : LargeString;
  // credential metadata read from Service Manager; never a secret
  clientId       : String(255) @readonly;
  tokenUrl       : Url @readonly;
  apiUrl         : Url @readonly;
  certFingerprint: String(100) @readonly;
  expiresAt      : Timestamp @readonly;
  expiry         : Association to ExpiryStates @readonly;
  verification   : Association to VerificationStates @readonly;
  verifiedAt     : Timestamp @readonly;
  verifyStatus   : Integer @readonly;
  verifyLatency  : Integer @readonly;
  verifyMessage  : Message @readonly;
  rotatedFrom    : Association to ServiceKeys @readonly;
  /** rotation: when this key, replaced by a successor that works, is deleted */
  retireAt       : Timestamp @readonly;
  registrations  : Composition of many Registrations
                     on registrations.serviceKey = $self;
  operations     : Association to many Operations
                     on operations.serviceKey = $self;
}

entity VerificationStates : CodeList {
  key code        : String(20);
      criticality : Integer;
}

/** Whether a certificate is still far from its end of validity. */
entity ExpiryStates : CodeList {
  key code        : String(10);
      criticality : Integer;
}

/** A client certificate (public part only) and its parsed facts. */
entity Certificates : cuid, managed {
  name          : String(128);
  pem           : LargeString;
  subject       : String(1000) @readonly;
  issuer        : String(1000) @readonly;
  serialNumber  : String(128) @readonly;
  notBefore     : Timestamp @readonly;
  notAfter      : Timestamp @readonly;
  fingerprint   : String(100) @readonly;
  keyAlgorithm  : String(20) @readonly;
  keySize       : Integer @readonly;
  clientAuth    : Boolean @readonly;
  expiry        : Association to ExpiryStates @readonly;
  keys          : Association to many ServiceKeys
                    on keys.certificate = $self;
}

/** A key handed to a consumer, e.g. a Cloud ALM tenant's landscape management. */
entity Registrations : cuid, managed {
  serviceKey   : Association to ServiceKeys @mandatory;
  /** e.g. cloud-alm-landscape */
  consumerType : String(40) @mandatory;
  tenant       : String(255) @mandatory;
  status       : String(20) enum {
    Active;
    Removed;
  } default 'Active';
}

/** Every remote step: the persisted, resumable record of the orchestration. */
entity Operations : cuid, managed {
  type        : String(20) enum {
    create;
    delete;
    /** delete a key replaced by rotation, once the overlap has passed */
    retire;
    sync;
    verify;
  };
  targetType  : String(20) enum {
    instance;
    serviceKey;
    subaccount;
  };
  subaccount  : Association to Subaccounts;
  instance    : Association to ServiceInstances;
  serviceKey  : Association to ServiceKeys;
  /** the generation of the target this step works for */
  generation  : Integer;
  state       : Association to OperationStates default 'pending';
  smLocation  : String(500);
  attempts    : Integer default 0;
  nextAttempt : Timestamp;
  deadline    : Timestamp;
  startedAt   : Timestamp;
  finishedAt  : Timestamp;
  error       : Message;
  /** verification steps: HTTP status of the token endpoint and the time it took */
  httpStatus  : Integer;
  latency     : Integer;
}

entity OperationStates : CodeList {
  key code        : String(20);
      criticality : Integer;
}

/**
 * What a sweep of a subaccount found out of line between Service Manager and our records: objects with our
 * labels we do not know (orphan), records whose object is gone (vanished), records stuck in a transitional
 * state (stuck), objects we did not create (unmanaged: candidates for import).
 */
entity Findings : cuid, managed {
  subaccount   : Association to Subaccounts;
  category     : String(20) enum {
    orphan;
    vanished;
    stuck;
    unmanaged;
  };
  resourceType : String(20) enum {
    instance;
    binding;
  };
  smId         : Guid;
  name         : String(255);
  /** for bindings: the instance in Service Manager */
  instanceSmId : Guid;
  instance     : Association to ServiceInstances;
  serviceKey   : Association to ServiceKeys;
  detail       : Message;
  status       : String(20) enum {
    open;
    adopted;
    removed;
    ignored;
    resolved;
  } default 'open';
}

/** A seed scenario as data: what to create and which credential fields a consumer needs. */
entity Templates : cuid, managed {
  name             : String(128) @mandatory;
  description      : String(1000);
  offeringName     : String(128) @mandatory;
  planName         : String(128) @mandatory;
  environment      : String(20) default 'other';
  parameters       : LargeString;
  credentialType   : String(20) default 'binding-secret';
  keyParameters    : LargeString;
  credentialFields : String(500);
}

/**
 * Background duties that one app instance at a time carries out (e.g. the expiry scan): the instance that
 * takes the lease runs the duty and sets its next run; a lapsed lease lets another instance take it.
 */
entity Duties {
  key name       : String(40);
      runAt      : Timestamp;
      leaseOwner : String(60);
      leaseUntil : Timestamp;
}
