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
    dangling  : Integer;
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
  entity ServicePlans     as projection on db.ServicePlans {
    *,
    // the texts of the apps' plan value help as own properties: a plan typed into a field is checked with
    // one request that expands nothing
    offering.name    as offeringName    : String(128),
    offering.title   as offeringTitle   : String(255),
    entitlement.name as entitlementName : String(255)
  };

  entity ServiceInstances as projection on db.ServiceInstances {
    *,
    /** `parameters` as JSON text, for forms: written, it replaces `parameters`; read, it shows them */
    virtual null as parametersText : LargeString
  } excluding {
    leaseOwner,
    leaseUntil
  }
    actions {
      /** Read the instance from Service Manager again and update its state. */
      action refresh() returns ServiceInstances;
    };

  entity ServiceKeys      as projection on db.ServiceKeys {
    *,
    /** `parameters` as JSON text, for forms: written, it replaces `parameters`; read, it shows them */
    virtual null as parametersText : LargeString
  } excluding {
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
       * delete the old one once the overlap has passed. A key SAP created automatically (`automatic`) is
       * replaced only with `force` by an Administrator.
       */
      action rotate(force : Boolean) returns ServiceKeys;
      /** The key's credentials, read live from Service Manager (audit-logged). */
      action revealCredentials() returns LargeString;
      /** The key's credentials as the cockpit's service key JSON file (audit-logged). */
      function downloadCredentials() returns LargeBinary @Core.MediaType: 'application/json';
    };

  // a key's own fields, checked when it is written (CAP evaluates them before the commit, answering 400 with
  // our codes); rules that read other rows or Service Manager, or that name another field as their target,
  // stay in provisioning-service.ts
  annotate ServiceKeys with {
    credentialType @assert: (case
      when credentialType not in ('binding-secret', 'x509') then error('CREDENTIAL_TYPE_INVALID')
    end);
    // a certificate that XSUAA generates: what Service Manager accepts (the defaults are filled in by the handler)
    keyLength      @assert: (case
      when credentialType = 'x509' and keyLength not in (2048, 4096, 8192) then error('KEY_LENGTH_INVALID')
    end);
    validity       @assert: (case
      when credentialType = 'x509' and (
           coalesce(validityType, 'DAYS') not in ('DAYS', 'MONTHS', 'YEARS')
        or validity < 1
        or (coalesce(validityType, 'DAYS') = 'DAYS' and validity > 365)
        or (validityType = 'MONTHS' and validity > 12)
        or (validityType = 'YEARS' and validity > 1)
      ) then error('VALIDITY_INVALID')
    end);
    purpose        @assert: (case
      when purpose not in ('api', 'one-use', 'landscape') then error('KEY_PURPOSE_INVALID')
    end);
  };

  /**
   * Keys handed to consumers, e.g. a Cloud ALM tenant's landscape management: one active key per consumer
   * and tenant. Deleting a key removes its registrations first.
   */
  entity Registrations    as projection on db.Registrations excluding {
    deliveryLeaseOwner,
    deliveryLeaseUntil
  };

  /**
   * The Destination service of a consumer subaccount (one service key per subaccount), where registrations of
   * consumer type `destination` write their keys. Maintained by Administrators; `clientSecret` is written and
   * never read back.
   */
  entity DestinationTargets as projection on db.DestinationTargets {
    *,
    /** written: the key's client secret, kept for delivery; read: always empty (an input, not computed) */
    @Core.Computed: false
    virtual null as clientSecret : String(500)
  } excluding {
    clientSecret
  };

  /**
   * Other applications that call this service with client-credentials tokens, and the subaccounts each may
   * use (an application without an entry reaches none). Maintained by Administrators.
   */
  entity ConsumerApps     as projection on db.ConsumerApps;
  entity ConsumerAppSubaccounts as projection on db.ConsumerAppSubaccounts;

  /** Client certificates (public part only), e.g. an ABAP system's client default certificate. */
  entity Certificates     as projection on db.Certificates {
    *,
    virtual null as daysLeft : Integer
  };

  /** Mark keys and certificates that expire within the warning window, and emit events for them. */
  action scanExpiry() returns {
    keys         : Integer;
    certificates : Integer;
    /** rotations the keys' rotation policies started */
    rotations    : Integer;
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

  /** An instance is Ready in Service Manager. */
  event InstanceReady {
    instance   : UUID;
    name       : String;
    subaccount : UUID;
    template   : UUID;
  }

  /** A key is Ready (its credentials stay in Service Manager). */
  event KeyReady {
    serviceKey     : UUID;
    name           : String;
    instance       : UUID;
    subaccount     : UUID;
    purpose        : String;
    credentialType : String;
  }

  /**
   * A rotation's new key works and took over the registrations of the old one; the old key is deleted at
   * `retireAt`. `reason`: manual (rotate) or policy (the key's rotation policy).
   */
  event KeyRotated {
    serviceKey      : UUID;
    name            : String;
    instance        : UUID;
    subaccount      : UUID;
    rotatedFrom     : UUID;
    rotatedFromName : String;
    reason          : String;
    retireAt        : Timestamp;
  }

  /**
   * A rotation stopped: its new key did not work. The old key (`serviceKey`) keeps its registrations, the new
   * one is deleted; a rotation policy tries again at a later scan.
   */
  event KeyRotationFailed {
    serviceKey    : UUID;
    name          : String;
    instance      : UUID;
    subaccount    : UUID;
    successor     : UUID;
    successorName : String;
    reason        : String;
    message       : String;
  }

  /**
   * A key with its owner's certificate is due for rotation by its policy, but no newer certificate with the
   * same subject was uploaded yet; `daysLeft` until the certificate in use expires.
   */
  event CertificateRenewalNeeded {
    serviceKey  : UUID;
    name        : String;
    instance    : UUID;
    subaccount  : UUID;
    certificate : UUID;
    subject     : String;
    notAfter    : Timestamp;
    daysLeft    : Integer;
  }

  /** A key is deleted from Service Manager. */
  event KeyDeleted {
    serviceKey : UUID;
    name       : String;
    instance   : UUID;
    subaccount : UUID;
  }

  /** A provisioning flow ended Failed. */
  event ProvisioningFailed {
    provisioning : UUID;
    template     : UUID;
    subaccount   : UUID;
    instanceName : String;
    keyName      : String;
    message      : String;
  }

  /** A registered key vanished from Service Manager while its consumer still holds it. */
  event RegistrationDangling {
    registration : UUID;
    serviceKey   : UUID;
    name         : String;
    consumerType : String;
    tenant       : String;
    subaccount   : UUID;
  }

  /** Audit messages could not be delivered and were given up (dead letters); /health reports DEGRADED. */
  event AuditLogDegraded {
    deadLetters : Integer;
    detectedAt  : Timestamp;
  }

  @readonly
  entity Operations       as projection on db.Operations;

  entity Templates        as projection on db.Templates;

  /** The flows of `provision`: where each stands, step by step, and the consumer view once the key is Ready. */
  @readonly
  entity Provisionings    as projection on db.Provisionings excluding {
    leaseOwner,
    leaseUntil
  };

  @readonly
  entity ProvisioningSteps as projection on db.ProvisioningSteps;

  type ProvisionStep {
    step       : String;
    action     : String;
    status     : String;
    target     : String;
    parameters : LargeString;
    detail     : String;
  }

  type ProvisionProblem {
    code    : String;
    status  : Integer;
    target  : String;
    message : String;
  }

  type ProvisionResult {
    ID           : UUID;
    dryRun       : Boolean;
    status       : String;
    instance     : UUID;
    serviceKey   : UUID;
    steps        : many ProvisionStep;
    problems     : many ProvisionProblem;
    consumerView : LargeString;
  }

  /**
   * A seed scenario (template) as one call: preflight, instance (reused where the template shares one), key,
   * verify, optional registration with the consumer tenant. Answers at once with the plan and the flow's ID
   * (Provisionings); `dryRun` answers the complete plan and every rule that fails, and changes nothing.
   */
  action provision(template : UUID, subaccount : UUID, instanceName : String, keyName : String, certificate : String, scopes : many String, tenant : String, dryRun : Boolean) returns ProvisionResult;

  @readonly
  entity LifecycleStates  as projection on db.LifecycleStates;

  @readonly
  entity OperationStates  as projection on db.OperationStates;

  @readonly
  entity VerificationStates as projection on db.VerificationStates;

  @readonly
  entity ExpiryStates     as projection on db.ExpiryStates;

  // texts of columns that keep their codes (credential type, environment, operation type and target,
  // subaccount health, entitlement): the apps show the names
  @readonly
  entity CredentialTypes  as projection on db.CredentialTypes;

  @readonly
  entity Environments     as projection on db.Environments;

  @readonly
  entity OperationTypes   as projection on db.OperationTypes;

  @readonly
  entity TargetTypes      as projection on db.TargetTypes;

  @readonly
  entity HealthStates     as projection on db.HealthStates;

  @readonly
  entity EntitlementStates as projection on db.EntitlementStates;

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
