/* checksum : a500d0ea2bdeaccd0c945e2f478bdbf3 */
@cds.external : true
service ProvisioningService {
  @cds.external : true
  action scanExpiry() returns return_ProvisioningService_scanExpiry;

  @cds.external : true
  action provision(
    template : UUID,
    subaccount : UUID,
    instanceName : String,
    keyName : String,
    certificate : String,
    scopes : many String,
    tenant : String,
    dryRun : Boolean
  ) returns ProvisionResult;

  @cds.external : true
  @cds.persistence.skip : true
  entity Subaccounts {
    @Core.ComputedDefaultValue : true
    key ID : UUID not null;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedAt}'
    createdAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedBy}'
    createdBy : String(255);
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedAt}'
    modifiedAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedBy}'
    modifiedBy : String(255);
    @Common.FieldControl : #Mandatory
    displayName : String(128);
    @Common.FieldControl : #Mandatory
    subaccountId : String(36);
    subdomain : String(128);
    region : String(32);
    globalAccount : String(128);
    destination : String(128);
    cfOrg : String(128);
    cfDestination : String(128);
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @Core.Computed : true
    catalogSyncedAt : Timestamp;
    @Core.Computed : true
    health : String(20);
    offerings : Association to many ServiceOfferings {  };
    plans : Association to many ServicePlans {  };
    instances : Association to many ServiceInstances {  };
    findings : Association to many Findings {  };
    healthState : Association to one HealthStates on healthState.code = health;
  } actions {
    action syncCatalog() returns Subaccounts;
    action sweep() returns SweepResult;
  };

  @cds.external : true
  @cds.persistence.skip : true
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.InsertRestrictions.Insertable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity Findings {
    @Core.ComputedDefaultValue : true
    key ID : UUID not null;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedAt}'
    createdAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedBy}'
    createdBy : String(255);
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedAt}'
    modifiedAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedBy}'
    modifiedBy : String(255);
    subaccount_ID : UUID;
    @Validation.AllowedValues : [
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'orphan',
        Value: 'orphan'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'vanished',
        Value: 'vanished'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'stuck',
        Value: 'stuck'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'unmanaged',
        Value: 'unmanaged'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'dangling',
        Value: 'dangling'
      }
    ]
    category : String(20);
    @Validation.AllowedValues : [
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'instance',
        Value: 'instance'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'binding',
        Value: 'binding'
      }
    ]
    resourceType : String(20);
    smId : String(36);
    name : String(255);
    instanceSmId : String(36);
    instance_ID : UUID;
    serviceKey_ID : UUID;
    detail : String(2000);
    @Validation.AllowedValues : [
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'open',
        Value: 'open'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'adopted',
        Value: 'adopted'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'removed',
        Value: 'removed'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'ignored',
        Value: 'ignored'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'resolved',
        Value: 'resolved'
      }
    ]
    status : String(20) default 'open';
    subaccount : Association to one Subaccounts on subaccount.ID = subaccount_ID;
    instance : Association to one ServiceInstances on instance.ID = instance_ID;
    serviceKey : Association to one ServiceKeys on serviceKey.ID = serviceKey_ID;
  } actions {
    action adopt() returns Findings;
    action remove() returns Findings;
    action ignore() returns Findings;
  };

  @cds.external : true
  @cds.persistence.skip : true
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.InsertRestrictions.Insertable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity ServiceOfferings {
    @Core.ComputedDefaultValue : true
    key ID : UUID not null;
    subaccount_ID : UUID;
    name : String(128);
    description : String(1000);
    smId : String(36);
    bindable : Boolean default true;
    subaccount : Association to one Subaccounts on subaccount.ID = subaccount_ID;
    plans : Association to many ServicePlans {  };
  };

  @cds.external : true
  @cds.persistence.skip : true
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.InsertRestrictions.Insertable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity ServicePlans {
    @Core.ComputedDefaultValue : true
    key ID : UUID not null;
    subaccount_ID : UUID;
    offering_ID : UUID;
    name : String(128);
    description : String(1000);
    smId : String(36);
    free : Boolean default false;
    entitled : Boolean default true;
    offeringName : String(128);
    entitlementName : String(255);
    subaccount : Association to one Subaccounts on subaccount.ID = subaccount_ID;
    offering : Association to one ServiceOfferings on offering.ID = offering_ID;
    entitlement : Association to one EntitlementStates on entitlement.code = entitled;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity ServiceInstances {
    @Core.ComputedDefaultValue : true
    key ID : UUID not null;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedAt}'
    createdAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedBy}'
    createdBy : String(255);
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedAt}'
    modifiedAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedBy}'
    modifiedBy : String(255);
    @Core.Computed : true
    @Common.ValueList.$Type : 'Common.ValueListType'
    @Common.ValueList.Label : 'LifecycleStates'
    @Common.ValueList.CollectionPath : 'LifecycleStates'
    @Common.ValueList.Parameters : [
      {
        $Type: 'Common.ValueListParameterInOut',
        LocalDataProperty: state_code,
        ValueListProperty: 'code'
      },
      {
        $Type: 'Common.ValueListParameterDisplayOnly',
        ValueListProperty: 'name'
      }
    ]
    state_code : String(20) default 'Creating';
    @Core.Computed : true
    smId : String(36);
    @Core.Computed : true
    lastOperation_ID : UUID;
    @Core.Computed : true
    lastError : String(2000);
    @Core.Computed : true
    @Validation.AllowedValues : [
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'present',
        Value: 'present'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'absent',
        Value: 'absent'
      }
    ]
    desired : String(10) default 'present';
    @Core.Computed : true
    generation : Integer default 1;
    @Core.Computed : true
    observedGeneration : Integer default 0;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @Core.Computed : true
    reconcileAt : Timestamp;
    @Core.Computed : true
    smOperation : String(500);
    @Core.Computed : true
    attempts : Integer default 0;
    @Common.FieldControl : #Mandatory
    subaccount_ID : UUID;
    @Core.Computed : true
    offering_ID : UUID;
    plan_ID : UUID;
    @Validation.AllowedValues : [
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'other',
        Value: 'other'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'cloudfoundry',
        Value: 'cloudfoundry'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'kubernetes',
        Value: 'kubernetes'
      }
    ]
    environment : String(20);
    space : String(128);
    name : String(100);
    parameters : String;
    @Core.Computed : true
    labels : String;
    template_ID : UUID;
    state : Association to one LifecycleStates on state.code = state_code;
    lastOperation : Association to one Operations on lastOperation.ID = lastOperation_ID;
    subaccount : Association to one Subaccounts on subaccount.ID = subaccount_ID;
    offering : Association to one ServiceOfferings on offering.ID = offering_ID;
    plan : Association to one ServicePlans on plan.ID = plan_ID;
    template : Association to one Templates on template.ID = template_ID;
    keys : Association to many ServiceKeys {  };
    operations : Association to many Operations {  };
    environmentText : Association to one Environments on environmentText.code = environment;
  } actions {
    action refresh() returns ServiceInstances;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity ServiceKeys {
    @Core.ComputedDefaultValue : true
    key ID : UUID not null;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedAt}'
    createdAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedBy}'
    createdBy : String(255);
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedAt}'
    modifiedAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedBy}'
    modifiedBy : String(255);
    @Core.Computed : true
    @Common.ValueList.$Type : 'Common.ValueListType'
    @Common.ValueList.Label : 'LifecycleStates'
    @Common.ValueList.CollectionPath : 'LifecycleStates'
    @Common.ValueList.Parameters : [
      {
        $Type: 'Common.ValueListParameterInOut',
        LocalDataProperty: state_code,
        ValueListProperty: 'code'
      },
      {
        $Type: 'Common.ValueListParameterDisplayOnly',
        ValueListProperty: 'name'
      }
    ]
    state_code : String(20) default 'Creating';
    @Core.Computed : true
    smId : String(36);
    @Core.Computed : true
    lastOperation_ID : UUID;
    @Core.Computed : true
    lastError : String(2000);
    @Core.Computed : true
    @Validation.AllowedValues : [
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'present',
        Value: 'present'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'absent',
        Value: 'absent'
      }
    ]
    desired : String(10) default 'present';
    @Core.Computed : true
    generation : Integer default 1;
    @Core.Computed : true
    observedGeneration : Integer default 0;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @Core.Computed : true
    reconcileAt : Timestamp;
    @Core.Computed : true
    smOperation : String(500);
    @Core.Computed : true
    attempts : Integer default 0;
    @Common.FieldControl : #Mandatory
    instance_ID : UUID;
    @Core.Computed : true
    subaccount_ID : UUID;
    name : String(100);
    @Validation.AllowedValues : [
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'secret',
        Value: 'binding-secret'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'x509',
        Value: 'x509'
      }
    ]
    credentialType : String(20) default 'binding-secret';
    certificate_ID : UUID;
    @Validation.AllowedValues : [
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'bits2048',
        Value: 2048
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'bits4096',
        Value: 4096
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'bits8192',
        Value: 8192
      }
    ]
    keyLength : Integer;
    validity : Integer;
    @Validation.AllowedValues : [
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'DAYS',
        Value: 'DAYS'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'MONTHS',
        Value: 'MONTHS'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'YEARS',
        Value: 'YEARS'
      }
    ]
    validityType : String(10);
    parameters : String;
    @Core.Computed : true
    clientId : String(255);
    @Core.Computed : true
    tokenUrl : String(500);
    @Core.Computed : true
    apiUrl : String(500);
    @Core.Computed : true
    certFingerprint : String(100);
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @Core.Computed : true
    expiresAt : Timestamp;
    @Core.Computed : true
    @Common.ValueList.$Type : 'Common.ValueListType'
    @Common.ValueList.Label : 'ExpiryStates'
    @Common.ValueList.CollectionPath : 'ExpiryStates'
    @Common.ValueList.Parameters : [
      {
        $Type: 'Common.ValueListParameterInOut',
        LocalDataProperty: expiry_code,
        ValueListProperty: 'code'
      },
      {
        $Type: 'Common.ValueListParameterDisplayOnly',
        ValueListProperty: 'name'
      }
    ]
    expiry_code : String(10);
    @Core.Computed : true
    @Common.ValueList.$Type : 'Common.ValueListType'
    @Common.ValueList.Label : 'VerificationStates'
    @Common.ValueList.CollectionPath : 'VerificationStates'
    @Common.ValueList.Parameters : [
      {
        $Type: 'Common.ValueListParameterInOut',
        LocalDataProperty: verification_code,
        ValueListProperty: 'code'
      },
      {
        $Type: 'Common.ValueListParameterDisplayOnly',
        ValueListProperty: 'name'
      }
    ]
    verification_code : String(20);
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @Core.Computed : true
    verifiedAt : Timestamp;
    @Core.Computed : true
    verifyStatus : Integer;
    @Core.Computed : true
    verifyLatency : Integer;
    @Core.Computed : true
    verifyMessage : String(2000);
    @Core.Computed : true
    rotatedFrom_ID : UUID;
    @Validation.AllowedValues : [
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'api',
        Value: 'api'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'oneUse',
        Value: 'one-use'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'landscape',
        Value: 'landscape'
      }
    ]
    purpose : String(20);
    @Core.Computed : true
    automatic : Boolean default false;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @Core.Computed : true
    retireAt : Timestamp;
    state : Association to one LifecycleStates on state.code = state_code;
    lastOperation : Association to one Operations on lastOperation.ID = lastOperation_ID;
    instance : Association to one ServiceInstances on instance.ID = instance_ID;
    subaccount : Association to one Subaccounts on subaccount.ID = subaccount_ID;
    certificate : Association to one Certificates on certificate.ID = certificate_ID;
    expiry : Association to one ExpiryStates on expiry.code = expiry_code;
    verification : Association to one VerificationStates on verification.code = verification_code;
    rotatedFrom : Association to one ServiceKeys on rotatedFrom.ID = rotatedFrom_ID;
    registrations : Composition of many Registrations on registrations.serviceKey = $self;
    operations : Association to many Operations {  };
    credentialTypeText : Association to one CredentialTypes on credentialTypeText.code = credentialType;
  } actions {
    action refresh() returns ServiceKeys;
    action verify(
      privateKey : String
    ) returns ServiceKeys;
    action rotate(
      force : Boolean
    ) returns ServiceKeys;
    action revealCredentials() returns String;
    function downloadCredentials() returns
      @Core.MediaType : 'application/octet-stream'
      @odata.Type : 'Edm.Stream'
      LargeBinary;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity Registrations {
    @Core.ComputedDefaultValue : true
    key ID : UUID not null;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedAt}'
    createdAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedBy}'
    createdBy : String(255);
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedAt}'
    modifiedAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedBy}'
    modifiedBy : String(255);
    @Common.FieldControl : #Mandatory
    serviceKey_ID : UUID;
    @Common.FieldControl : #Mandatory
    consumerType : String(40);
    @Common.FieldControl : #Mandatory
    tenant : String(255);
    @Validation.AllowedValues : [
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'Active',
        Value: 'Active'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'Removed',
        Value: 'Removed'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'Pending',
        Value: 'Pending'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'Dangling',
        Value: 'Dangling'
      }
    ]
    status : String(20) default 'Active';
    serviceKey : Association to one ServiceKeys on serviceKey.ID = serviceKey_ID;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity ConsumerApps {
    @Core.ComputedDefaultValue : true
    key ID : UUID not null;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedAt}'
    createdAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedBy}'
    createdBy : String(255);
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedAt}'
    modifiedAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedBy}'
    modifiedBy : String(255);
    @Common.FieldControl : #Mandatory
    clientId : String(255);
    description : String(255);
    subaccounts : Composition of many ConsumerAppSubaccounts on subaccounts.app = $self;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity ConsumerAppSubaccounts {
    @Core.ComputedDefaultValue : true
    key ID : UUID not null;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedAt}'
    createdAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedBy}'
    createdBy : String(255);
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedAt}'
    modifiedAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedBy}'
    modifiedBy : String(255);
    @Common.FieldControl : #Mandatory
    app_ID : UUID;
    @Common.FieldControl : #Mandatory
    subaccount_ID : UUID;
    app : Association to one ConsumerApps on app.ID = app_ID;
    subaccount : Association to one Subaccounts on subaccount.ID = subaccount_ID;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity Certificates {
    @Core.ComputedDefaultValue : true
    key ID : UUID not null;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedAt}'
    createdAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedBy}'
    createdBy : String(255);
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedAt}'
    modifiedAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedBy}'
    modifiedBy : String(255);
    name : String(128);
    pem : String;
    @Core.Computed : true
    subject : String(1000);
    @Core.Computed : true
    issuer : String(1000);
    @Core.Computed : true
    serialNumber : String(128);
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @Core.Computed : true
    notBefore : Timestamp;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @Core.Computed : true
    notAfter : Timestamp;
    @Core.Computed : true
    fingerprint : String(100);
    @Core.Computed : true
    keyAlgorithm : String(20);
    @Core.Computed : true
    keySize : Integer;
    @Core.Computed : true
    clientAuth : Boolean;
    @Core.Computed : true
    @Common.ValueList.$Type : 'Common.ValueListType'
    @Common.ValueList.Label : 'ExpiryStates'
    @Common.ValueList.CollectionPath : 'ExpiryStates'
    @Common.ValueList.Parameters : [
      {
        $Type: 'Common.ValueListParameterInOut',
        LocalDataProperty: expiry_code,
        ValueListProperty: 'code'
      },
      {
        $Type: 'Common.ValueListParameterDisplayOnly',
        ValueListProperty: 'name'
      }
    ]
    expiry_code : String(10);
    @Core.Computed : true
    daysLeft : Integer;
    expiry : Association to one ExpiryStates on expiry.code = expiry_code;
    keys : Association to many ServiceKeys {  };
  };

  @cds.external : true
  @cds.persistence.skip : true
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.InsertRestrictions.Insertable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity Operations {
    @Core.ComputedDefaultValue : true
    key ID : UUID not null;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedAt}'
    createdAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedBy}'
    createdBy : String(255);
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedAt}'
    modifiedAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedBy}'
    modifiedBy : String(255);
    @Validation.AllowedValues : [
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'create',
        Value: 'create'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'delete',
        Value: 'delete'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'retire',
        Value: 'retire'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'sync',
        Value: 'sync'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'verify',
        Value: 'verify'
      }
    ]
    type : String(20);
    @Validation.AllowedValues : [
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'instance',
        Value: 'instance'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'serviceKey',
        Value: 'serviceKey'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'subaccount',
        Value: 'subaccount'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'provisioning',
        Value: 'provisioning'
      }
    ]
    targetType : String(20);
    subaccount_ID : UUID;
    provisioning_ID : UUID;
    instance_ID : UUID;
    serviceKey_ID : UUID;
    generation : Integer;
    @Common.ValueList.$Type : 'Common.ValueListType'
    @Common.ValueList.Label : 'OperationStates'
    @Common.ValueList.CollectionPath : 'OperationStates'
    @Common.ValueList.Parameters : [
      {
        $Type: 'Common.ValueListParameterInOut',
        LocalDataProperty: state_code,
        ValueListProperty: 'code'
      },
      {
        $Type: 'Common.ValueListParameterDisplayOnly',
        ValueListProperty: 'name'
      }
    ]
    state_code : String(20) default 'pending';
    smLocation : String(500);
    attempts : Integer default 0;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    nextAttempt : Timestamp;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    deadline : Timestamp;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    startedAt : Timestamp;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    finishedAt : Timestamp;
    error : String(2000);
    httpStatus : Integer;
    latency : Integer;
    subaccount : Association to one Subaccounts on subaccount.ID = subaccount_ID;
    provisioning : Association to one Provisionings on provisioning.ID = provisioning_ID;
    instance : Association to one ServiceInstances on instance.ID = instance_ID;
    serviceKey : Association to one ServiceKeys on serviceKey.ID = serviceKey_ID;
    state : Association to one OperationStates on state.code = state_code;
    typeText : Association to one OperationTypes on typeText.code = type;
    targetTypeText : Association to one TargetTypes on targetTypeText.code = targetType;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity Templates {
    @Core.ComputedDefaultValue : true
    key ID : UUID not null;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedAt}'
    createdAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedBy}'
    createdBy : String(255);
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedAt}'
    modifiedAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedBy}'
    modifiedBy : String(255);
    @Common.FieldControl : #Mandatory
    name : String(128);
    description : String(1000);
    @Common.FieldControl : #Mandatory
    offeringName : String(128);
    @Common.FieldControl : #Mandatory
    planName : String(128);
    environment : String(20) default 'other';
    space : String(128);
    parameters : String;
    credentialType : String(20) default 'binding-secret';
    keyParameters : String;
    credentialFields : String(500);
    inputSchema : String;
    sharedInstance : Boolean default false;
    keyName : String(100);
    keyPurpose : String(20);
    consumerType : String(40);
  };

  @cds.external : true
  @cds.persistence.skip : true
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.InsertRestrictions.Insertable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity Provisionings {
    @Core.ComputedDefaultValue : true
    key ID : UUID not null;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedAt}'
    createdAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Immutable : true
    @Core.Computed : true
    @Common.Label : '{i18n>CreatedBy}'
    createdBy : String(255);
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedAt}'
    modifiedAt : Timestamp;
    /** {i18n>UserID.Description} */
    @UI.HiddenFilter : true
    @UI.ExcludeFromNavigationContext : true
    @Core.Computed : true
    @Common.Label : '{i18n>ChangedBy}'
    modifiedBy : String(255);
    @Core.Computed : true
    @Common.ValueList.$Type : 'Common.ValueListType'
    @Common.ValueList.Label : 'LifecycleStates'
    @Common.ValueList.CollectionPath : 'LifecycleStates'
    @Common.ValueList.Parameters : [
      {
        $Type: 'Common.ValueListParameterInOut',
        LocalDataProperty: state_code,
        ValueListProperty: 'code'
      },
      {
        $Type: 'Common.ValueListParameterDisplayOnly',
        ValueListProperty: 'name'
      }
    ]
    state_code : String(20) default 'Creating';
    @Core.Computed : true
    smId : String(36);
    @Core.Computed : true
    lastOperation_ID : UUID;
    @Core.Computed : true
    lastError : String(2000);
    @Core.Computed : true
    @Validation.AllowedValues : [
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'present',
        Value: 'present'
      },
      {
        $Type: 'Validation.AllowedValue',
        @Core.SymbolicName: 'absent',
        Value: 'absent'
      }
    ]
    desired : String(10) default 'present';
    @Core.Computed : true
    generation : Integer default 1;
    @Core.Computed : true
    observedGeneration : Integer default 0;
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    @Core.Computed : true
    reconcileAt : Timestamp;
    @Core.Computed : true
    smOperation : String(500);
    @Core.Computed : true
    attempts : Integer default 0;
    template_ID : UUID;
    subaccount_ID : UUID;
    instanceName : String(100);
    keyName : String(100);
    inputs : String;
    instance_ID : UUID;
    serviceKey_ID : UUID;
    consumerType : String(40);
    tenant : String(255);
    registration_ID : UUID;
    status : String(20) default 'running';
    consumerView : String;
    state : Association to one LifecycleStates on state.code = state_code;
    lastOperation : Association to one Operations on lastOperation.ID = lastOperation_ID;
    template : Association to one Templates on template.ID = template_ID;
    subaccount : Association to one Subaccounts on subaccount.ID = subaccount_ID;
    instance : Association to one ServiceInstances on instance.ID = instance_ID;
    serviceKey : Association to one ServiceKeys on serviceKey.ID = serviceKey_ID;
    registration : Association to one Registrations on registration.ID = registration_ID;
    steps : Composition of many ProvisioningSteps on steps.provisioning = $self;
  };

  @cds.external : true
  @cds.persistence.skip : true
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.InsertRestrictions.Insertable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity ProvisioningSteps {
    @Core.ComputedDefaultValue : true
    key ID : UUID not null;
    provisioning_ID : UUID;
    seq : Integer;
    step : String(20);
    action : String(20);
    status : String(20);
    target : String(255);
    parameters : String;
    detail : String(2000);
    @odata.Precision : 7
    @odata.Type : 'Edm.DateTimeOffset'
    finishedAt : Timestamp;
    provisioning : Association to one Provisionings on provisioning.ID = provisioning_ID;
  };

  @cds.external : true
  @cds.persistence.skip : true
  @UI.Identification : [ { $Type: 'UI.DataField', Value: name } ]
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.InsertRestrictions.Insertable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity LifecycleStates {
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(20) not null;
    criticality : Integer;
    texts : Composition of many LifecycleStates_texts {  };
    localized : Association to one LifecycleStates_texts on localized.code = code;
  };

  @cds.external : true
  @cds.persistence.skip : true
  @UI.Identification : [ { $Type: 'UI.DataField', Value: name } ]
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.InsertRestrictions.Insertable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity OperationStates {
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(20) not null;
    criticality : Integer;
    texts : Composition of many OperationStates_texts {  };
    localized : Association to one OperationStates_texts on localized.code = code;
  };

  @cds.external : true
  @cds.persistence.skip : true
  @UI.Identification : [ { $Type: 'UI.DataField', Value: name } ]
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.InsertRestrictions.Insertable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity VerificationStates {
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(20) not null;
    criticality : Integer;
    texts : Composition of many VerificationStates_texts {  };
    localized : Association to one VerificationStates_texts on localized.code = code;
  };

  @cds.external : true
  @cds.persistence.skip : true
  @UI.Identification : [ { $Type: 'UI.DataField', Value: name } ]
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.InsertRestrictions.Insertable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity ExpiryStates {
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(10) not null;
    criticality : Integer;
    texts : Composition of many ExpiryStates_texts {  };
    localized : Association to one ExpiryStates_texts on localized.code = code;
  };

  @cds.external : true
  @cds.persistence.skip : true
  @UI.Identification : [ { $Type: 'UI.DataField', Value: name } ]
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.InsertRestrictions.Insertable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity CredentialTypes {
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(20) not null;
    texts : Composition of many CredentialTypes_texts {  };
    localized : Association to one CredentialTypes_texts on localized.code = code;
  };

  @cds.external : true
  @cds.persistence.skip : true
  @UI.Identification : [ { $Type: 'UI.DataField', Value: name } ]
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.InsertRestrictions.Insertable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity Environments {
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(20) not null;
    texts : Composition of many Environments_texts {  };
    localized : Association to one Environments_texts on localized.code = code;
  };

  @cds.external : true
  @cds.persistence.skip : true
  @UI.Identification : [ { $Type: 'UI.DataField', Value: name } ]
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.InsertRestrictions.Insertable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity OperationTypes {
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(20) not null;
    texts : Composition of many OperationTypes_texts {  };
    localized : Association to one OperationTypes_texts on localized.code = code;
  };

  @cds.external : true
  @cds.persistence.skip : true
  @UI.Identification : [ { $Type: 'UI.DataField', Value: name } ]
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.InsertRestrictions.Insertable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity TargetTypes {
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(20) not null;
    texts : Composition of many TargetTypes_texts {  };
    localized : Association to one TargetTypes_texts on localized.code = code;
  };

  @cds.external : true
  @cds.persistence.skip : true
  @UI.Identification : [ { $Type: 'UI.DataField', Value: name } ]
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.InsertRestrictions.Insertable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity HealthStates {
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(20) not null;
    criticality : Integer;
    texts : Composition of many HealthStates_texts {  };
    localized : Association to one HealthStates_texts on localized.code = code;
  };

  @cds.external : true
  @cds.persistence.skip : true
  @UI.Identification : [ { $Type: 'UI.DataField', Value: name } ]
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.InsertRestrictions.Insertable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity EntitlementStates {
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : Boolean not null;
    criticality : Integer;
    texts : Composition of many EntitlementStates_texts {  };
    localized : Association to one EntitlementStates_texts on localized.code = code;
  };

  @cds.external : true
  @cds.persistence.skip : true
  @odata.singleton : true
  @Capabilities.DeleteRestrictions.Deletable : false
  @Capabilities.UpdateRestrictions.Updatable : false
  entity Me {
    user : String;
    canProvision : Boolean;
    canReadCredentials : Boolean;
    canAdminister : Boolean;
    limitedToSubaccounts : Boolean;
    provisioningHidden : Boolean;
    credentialsHidden : Boolean;
    administrationHidden : Boolean;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity LifecycleStates_texts {
    @Common.Label : '{i18n>LanguageCode}'
    key locale : String(14) not null;
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(20) not null;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity OperationStates_texts {
    @Common.Label : '{i18n>LanguageCode}'
    key locale : String(14) not null;
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(20) not null;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity VerificationStates_texts {
    @Common.Label : '{i18n>LanguageCode}'
    key locale : String(14) not null;
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(20) not null;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity ExpiryStates_texts {
    @Common.Label : '{i18n>LanguageCode}'
    key locale : String(14) not null;
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(10) not null;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity CredentialTypes_texts {
    @Common.Label : '{i18n>LanguageCode}'
    key locale : String(14) not null;
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(20) not null;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity Environments_texts {
    @Common.Label : '{i18n>LanguageCode}'
    key locale : String(14) not null;
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(20) not null;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity OperationTypes_texts {
    @Common.Label : '{i18n>LanguageCode}'
    key locale : String(14) not null;
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(20) not null;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity TargetTypes_texts {
    @Common.Label : '{i18n>LanguageCode}'
    key locale : String(14) not null;
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(20) not null;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity HealthStates_texts {
    @Common.Label : '{i18n>LanguageCode}'
    key locale : String(14) not null;
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : String(20) not null;
  };

  @cds.external : true
  @cds.persistence.skip : true
  entity EntitlementStates_texts {
    @Common.Label : '{i18n>LanguageCode}'
    key locale : String(14) not null;
    @Common.Label : '{i18n>Name}'
    name : String(255);
    @Common.Label : '{i18n>Description}'
    descr : String(1000);
    key code : Boolean not null;
  };

  @cds.external : true
  type SweepResult {
    orphan : Integer;
    vanished : Integer;
    stuck : Integer;
    unmanaged : Integer;
    dangling : Integer;
  };

  @cds.external : true
  type ProvisionStep {
    step : String;
    action : String;
    status : String;
    target : String;
    parameters : String;
    detail : String;
  };

  @cds.external : true
  type ProvisionProblem {
    code : String;
    status : Integer;
    target : String;
    message : String;
  };

  @cds.external : true
  type ProvisionResult {
    ID : UUID;
    dryRun : Boolean;
    status : String;
    instance : UUID;
    serviceKey : UUID;
    steps : many ProvisionStep;
    problems : many ProvisionProblem;
    consumerView : String;
  };

  @cds.external : true
  type return_ProvisioningService_scanExpiry {
    keys : Integer;
    certificates : Integer;
  };
};

