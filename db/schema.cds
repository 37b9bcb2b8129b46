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

/** Lifecycle of everything we create remotely (the codes as a type: the handlers use the generated constants). */
type LifecycleStateCode : String(20) enum {
  Creating;
  Ready;
  Deleting;
  Deleted;
  Failed;
}

entity LifecycleStates : CodeList {
  key code        : LifecycleStateCode;
      criticality : Integer;
}

/**
 * Whether the user wants an object to exist. A named type, not an inline enum of the aspect: cds-typer's
 * JavaScript output assigns an aspect's inline enum to an export that does not exist, and the module fails to load.
 */
type DesiredState : String(10) enum {
  present;
  absent;
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
  desired            : DesiredState default 'present';
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
  /** the subaccount's Cloud Foundry org (name or GUID): where instances of environment cloudfoundry live */
  cfOrg           : String(128);
  /** BTP destination holding the Cloud Foundry API endpoint and technical user (kind cf-destination) */
  cfDestination   : String(128);
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
  /** the name people know the service by (the catalog's metadata.displayName) */
  displayName : String(255);
  /** what the apps show: the display name, else the technical name */
  title       : String(255) = coalesce(displayName, name);
  description : String(1000);
  smId        : Guid;
  bindable    : Boolean default true;
  /** whether Service Manager lets an instance change to another plan of this offering */
  planUpdateable : Boolean default false;
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
  /** JSON object sent to Service Manager as the instance parameters (64 KB, 32 levels at most; no secrets) */
  parameters  : Map;
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
  /** the instance's subaccount, copied when the row is written (srv/lib/key-scope.ts): what restrictions and lists filter by */
  subaccount     : Association to Subaccounts @readonly;
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
  parameters     : Map;
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
  /** what the key is for: consumers take only suitable keys (e.g. Cloud ALM landscape management never an API or one-use key) */
  purpose        : String(20) enum {
    api;
    oneUse = 'one-use';
    landscape;
  };
  /** created automatically by SAP (e.g. Cloud ALM's `<SID>_<client>_<sysno>` keys), adopted: rotate and delete need force */
  automatic      : Boolean default false @readonly;
  /** rotation: when this key, replaced by a successor that works, is deleted */
  retireAt       : Timestamp @readonly;
  registrations  : Composition of many Registrations
                     on registrations.serviceKey = $self;
  operations     : Association to many Operations
                     on operations.serviceKey = $self;
}

type VerificationStateCode : String(20) enum {
  ok;
  failed;
}

entity VerificationStates : CodeList {
  key code        : VerificationStateCode;
      criticality : Integer;
}

/** Whether a certificate is still far from its end of validity. */
type ExpiryStateCode : String(10) enum {
  valid;
  expiring;
  expired;
}

entity ExpiryStates : CodeList {
  key code        : ExpiryStateCode;
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
    /** waits for a manual verify of its key (own certificate) */
    Pending;
    /** the key vanished from Service Manager while the consumer still holds it */
    Dangling;
  } default 'Active';
  /**
   * consumer type `destination` (srv/destinations/): `tenant` is the destination's name, written into the
   * Destination service of this target (by default the one of the key's subaccount)
   */
  destinationTarget : Association to DestinationTargets;
  /** what the destination holds: the key last written into it (none: no destination) */
  deliveredKey      : Association to ServiceKeys @readonly;
  /** pending (to be written or deleted), delivered, removed (deleted), failed (tried again at deliverAt) */
  delivery          : String(20) @readonly;
  deliveredAt       : Timestamp @readonly;
  deliveryError     : Message @readonly;
  deliveryAttempts  : Integer default 0 @readonly;
  /** when a failed delivery is tried again */
  deliverAt         : Timestamp @readonly;
  /** the process delivering it, and until when its lease holds */
  deliveryLeaseOwner : String(60) @readonly;
  deliveryLeaseUntil : Timestamp @readonly;
}

/**
 * The Destination service of a consumer subaccount, reached with one service key of it that an Administrator
 * registers: where registrations of consumer type `destination` write their keys (srv/destinations/). The key
 * is either in a BTP destination of this application's subaccount (`destination`, read with the SAP Cloud SDK
 * like the Service Manager access of Subaccounts: no secret in this database), or given here, its client secret
 * written and never read back.
 */
entity DestinationTargets : cuid, managed {
  subaccount   : Association to Subaccounts @mandatory;
  /** BTP destination holding the key: URL = `uri`, OAuth2ClientCredentials with the key's token URL, client ID and secret */
  destination  : String(128);
  /** the key's `uri`: the Destination service REST API */
  uri          : Url;
  /** the key's token endpoint (its `url` + /oauth/token) */
  tokenUrl     : Url;
  clientId     : String(255);
  clientSecret : String(500);
}

/**
 * Another application that calls this service with client-credentials tokens (a technical user), and the
 * subaccounts it may use: its token carries no user attributes, so this mapping stands in for the
 * `Subaccount` attribute (srv/lib/technical-users.ts). An application without an entry reaches none.
 */
entity ConsumerApps : cuid, managed {
  /** the token's client ID (`cid`, e.g. sb-my-app!t123) or the application's xsappname (my-app!t123) */
  clientId    : String(255) @mandatory;
  description : String(255);
  subaccounts : Composition of many ConsumerAppSubaccounts
                  on subaccounts.app = $self;
}

/** One subaccount a consumer application may use. */
entity ConsumerAppSubaccounts : cuid, managed {
  app        : Association to ConsumerApps @mandatory;
  subaccount : Association to Subaccounts @mandatory;
}

/** Every remote step: the persisted, resumable record of the orchestration. */
entity Operations : cuid, managed {
  type        : String(20) enum {
    create;
    delete;
    /** delete a key replaced by rotation, once the overlap has passed */
    retire;
    verify;
    /** change an instance's parameters or plan */
    update;
    /** read the object from its platform again */
    refresh;
    /** take an object found in Service Manager into our records (labelled as ours) */
    adopt;
  };
  targetType  : String(20) enum {
    instance;
    serviceKey;
    provisioning;
  };
  subaccount  : Association to Subaccounts;
  provisioning : Association to Provisionings;
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

type OperationStateCode : String(20) enum {
  pending;
  running;
  succeeded;
  failed;
  cancelled;
}

entity OperationStates : CodeList {
  key code        : OperationStateCode;
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
    /** a registration whose key vanished: the consumer still holds a credential that no longer works */
    dangling;
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
  /** where the object lives, as the sweep found it: cloudfoundry (in `space`) or other (Service Manager) */
  environment  : String(20) enum {
    other;
    cloudfoundry;
  } default 'other';
  space        : String(128);
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
  /** environment cloudfoundry: the space, unless the request names one */
  space            : String(128);
  parameters       : LargeString;
  credentialType   : String(20) default 'binding-secret';
  keyParameters    : LargeString;
  credentialFields : String(500);
  /** JSON Schema of the inputs `provision` takes for this template (certificate, scopes, tenant) */
  inputSchema      : LargeString;
  /** one instance and key serve every use of the template in a subaccount (seed 002) */
  sharedInstance   : Boolean default false;
  /** the key name when the caller gives none (seed 000: SAP_COM_0A69_Skey) */
  keyName          : String(100);
  /** purpose of the keys made from the template */
  keyPurpose       : String(20);
  /** consumer the key is registered with when the caller names a tenant (seed 003: cloud-alm-landscape) */
  consumerType     : String(40);
}

/**
 * One `provision` call: a seed scenario as one resumable flow (preflight, instance, key, verify, register),
 * carried by the reconciler like instances and keys (srv/provision.ts). `status`: running, completed,
 * unverified (own certificate: verify by hand), failed.
 */
entity Provisionings : cuid, managed, Lifecycle {
  template     : Association to Templates;
  subaccount   : Association to Subaccounts;
  instanceName : ResourceName;
  keyName      : ResourceName;
  /** the template's inputs as given (JSON: certificate ID, scopes, tenant); never a secret */
  inputs       : LargeString;
  instance     : Association to ServiceInstances;
  serviceKey   : Association to ServiceKeys;
  consumerType : String(40);
  tenant       : String(255);
  registration : Association to Registrations;
  status       : String(20) default 'running';
  /** the non-secret credential fields the consumer needs (JSON), once the key is Ready */
  consumerView : LargeString;
  steps        : Composition of many ProvisioningSteps
                   on steps.provisioning = $self;
}

/** One step of a provisioning flow and where it stands. */
entity ProvisioningSteps : cuid {
  provisioning : Association to Provisionings;
  seq          : Integer;
  /** preflight, instance, key, verify, register */
  step         : String(20);
  /** check, create, reuse, token, manual, register, none */
  action       : String(20);
  /** pending, done, reused, skipped, unverified, waiting, failed */
  status       : String(20);
  target       : String(255);
  /** what Service Manager is sent for the instance or the key (JSON) */
  parameters   : LargeString;
  detail       : Message;
  finishedAt   : Timestamp;
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

// ---- code lists for columns that keep their codes: the apps show the names (app/value-helps.cds) -------

/** How a key authenticates (ServiceKeys.credentialType). */
entity CredentialTypes : CodeList {
  key code : String(20);
}

/** Where an instance lives (ServiceInstances.environment). */
entity Environments : CodeList {
  key code : String(20);
}

/** What a remote step does (Operations.type). */
entity OperationTypes : CodeList {
  key code : String(20);
}

/** What a remote step works on (Operations.targetType). */
entity TargetTypes : CodeList {
  key code : String(20);
}

/** Whether a subaccount's Service Manager answered the last catalog sync (Subaccounts.health). */
entity HealthStates : CodeList {
  key code        : String(20);
      criticality : Integer;
}

/** Whether Service Manager lists a plan for the subaccount (ServicePlans.entitled). */
entity EntitlementStates : CodeList {
  key code        : Boolean;
      criticality : Integer;
}

extend ServiceKeys with {
  credentialTypeText : Association to CredentialTypes on credentialTypeText.code = credentialType;
}

extend ServiceInstances with {
  environmentText : Association to Environments on environmentText.code = environment;
}

extend Operations with {
  typeText       : Association to OperationTypes on typeText.code = type;
  targetTypeText : Association to TargetTypes on targetTypeText.code = targetType;
}

extend Subaccounts with {
  healthState : Association to HealthStates on healthState.code = health;
}

extend ServicePlans with {
  entitlement : Association to EntitlementStates on entitlement.code = entitled;
}

// ---- rotation by policy (srv/rotation.ts) ----------------------------------------------------------

/**
 * When a key is replaced by a successor without anyone asking: every so many days, and/or so many days before
 * the key's (or its certificate's) end of validity; the overlap is how long the old key stays once its
 * successor works (the service's `rotationOverlap` without it). Templates hand their policy to the keys made
 * from them. Checked by the expiry scan.
 */
aspect RotationPolicy {
  /** rotate once the key is this many days old (1..3650) */
  rotateEveryDays        : Integer;
  /** rotate once the key or its certificate expires within this many days (1..3650) */
  rotateBeforeExpiryDays : Integer;
  /** how long the old key stays after its successor took over, in hours (0..8760) */
  rotationOverlapHours   : Integer;
}

extend Templates with RotationPolicy;

extend ServiceKeys with RotationPolicy {
  /** the successor that replaces (or replaced) this key */
  rotatedTo      : Association to ServiceKeys @readonly;
  /** successor: when the rotation that made it began; old key: when its successor took over (app clock) */
  rotatedAt      : Timestamp @readonly;
  /** why: manual (rotate) or policy (the expiry scan) */
  @readonly
  rotationReason : String(10) enum {
    manual;
    policy;
  };
  /** why the last rotation of this key stopped (its successor did not work), or what it waits for */
  rotationError  : Message @readonly;
}
