/*
 * What the UI may do: create/update/delete per entity, which fields are set only on creation, when
 * actions are available and what they refresh. Authorization itself stays in srv/access-control.cds.
 */
using ProvisioningService as service from '../srv/provisioning-service';

// ---- service instances: created, updated (parameters and plan only), deleted ---------------------------
// (no UpdateRestrictions: Fiori elements would then show even the create dialog's fields read-only; the
// fields below are Core.Immutable (a PATCH of one answers INSTANCE_IMMUTABLE), and without drafts Fiori
// elements offers no Edit anyway)

annotate service.ServiceInstances with @(Capabilities.NavigationRestrictions: {RestrictedProperties: [{
  NavigationProperty: operations,
  InsertRestrictions: {Insertable: false}
}]}) {
  name        @Core.Immutable;
  subaccount  @Core.Immutable;
  environment @Core.Immutable;
  space       @Core.Immutable;
  // the forms show and take the parameters as JSON text
  parameters     @UI.Hidden;
  parametersText @UI.MultiLineText  @title: '{i18n>Parameters}';
  template    @Core.Immutable;
  labels      @UI.MultiLineText;
  lastError   @UI.MultiLineText;
}

annotate service.ServiceInstances actions {
  refresh @(
    Core.OperationAvailable: ($self.state.code != 'Deleted'),
    Common.SideEffects     : {
      TargetProperties: [
        'in/state_code',
        'in/smId',
        'in/lastError',
        'in/lastOperation_ID'
      ],
      TargetEntities  : [
        in.keys,
        in.operations,
        in.lastOperation
      ]
    }
  );
}

// ---- service keys: created and deleted, never changed ------------------------------------------------

annotate service.ServiceKeys with {
  instance       @Core.Immutable;
  name           @Core.Immutable;
  credentialType @Core.Immutable;
  certificate    @Core.Immutable;
  keyLength      @Core.Immutable;
  validity       @Core.Immutable;
  validityType   @Core.Immutable;
  parameters     @UI.Hidden;
  parametersText @Core.Immutable  @UI.MultiLineText  @title: '{i18n>Parameters}';
  lastError      @UI.MultiLineText;
  verifyMessage  @UI.MultiLineText;
}

annotate service.ServiceKeys actions {
  refresh @(
    Core.OperationAvailable: ($self.state.code != 'Deleted'),
    Common.SideEffects     : {
      TargetProperties: [
        'in/state_code',
        'in/smId',
        'in/lastError',
        'in/clientId',
        'in/tokenUrl',
        'in/apiUrl',
        'in/certFingerprint',
        'in/expiresAt'
      ],
      TargetEntities  : [
        in.operations,
        in.lastOperation
      ]
    }
  );
  // the private key is needed only for X.509 keys with an own certificate; it is never stored
  verify            @(
    Core.OperationAvailable: ($self.state.code = 'Ready'),
    Common.SideEffects     : {
      TargetProperties: [
        'in/verification_code',
        'in/verifiedAt',
        'in/verifyStatus',
        'in/verifyLatency',
        'in/verifyMessage'
      ],
      TargetEntities  : [
        in.operations,
        in.lastOperation
      ]
    }
  )(privateKey @title: '{i18n>PrivateKey}'  @UI.MultiLineText  @UI.Hidden: {$edmJson: {$Eq: [{$Path: 'in/certificate_ID'}, {$Null: null}]}});
  revealCredentials @(Core.OperationAvailable: ($self.state.code = 'Ready'));
  // a successor is created, verified and takes over the registrations; the old key goes after the overlap
  rotate            @(
    Core.OperationAvailable: ($self.state.code = 'Ready'),
    Common.SideEffects     : {
      TargetProperties: ['in/state_code'],
      TargetEntities  : [
        in.operations,
        in.lastOperation,
        in.registrations
      ]
    }
  );
}

// ---- who may do what: the service's Me singleton (roles of the signed-in user) -----------------------
// Fiori elements' own Delete buttons here; actions are hidden per DataFieldForAction in the apps'
// annotations, custom actions through the "permissions" model (app/shared/Permissions.js)

annotate service.ServiceInstances with @UI.DeleteHidden: {$edmJson: {$Path: '/Me/provisioningHidden'}};
annotate service.ServiceKeys with @UI.DeleteHidden: {$edmJson: {$Path: '/Me/provisioningHidden'}};
annotate service.Subaccounts with @UI.DeleteHidden: {$edmJson: {$Path: '/Me/administrationHidden'}};
annotate service.Certificates with @UI.DeleteHidden: {$edmJson: {$Path: '/Me/administrationHidden'}};

// ---- subaccounts: maintained by administrators -------------------------------------------------------

annotate service.Subaccounts with {
  subaccountId @Core.Immutable;
}

annotate service.Subaccounts actions {
  sweep       @(Common.SideEffects: {TargetEntities: [in.findings]});
  syncCatalog @(Common.SideEffects: {
    TargetProperties: [
      'in/catalogSyncedAt',
      'in/health'
    ],
    TargetEntities  : [
      in.offerings,
      in.plans
    ]
  });
}

// ---- findings of a sweep: acted on while open ----------------------------------------------------------

annotate service.Findings actions {
  adopt  @(
    Core.OperationAvailable: ($self.status = 'open'),
    Common.SideEffects     : {TargetProperties: [
      'in/status',
      'in/instance_ID',
      'in/serviceKey_ID'
    ]}
  );
  remove @(
    Core.OperationAvailable: ($self.status = 'open'),
    Common.SideEffects     : {TargetProperties: ['in/status']}
  );
  ignore @(
    Core.OperationAvailable: ($self.status = 'open'),
    Common.SideEffects     : {TargetProperties: ['in/status']}
  );
}

// ---- certificates: uploaded once; only the display name may change later ------------------------------

annotate service.Certificates with {
  pem      @Core.Immutable  @UI.MultiLineText;
  daysLeft @Core.Computed;
}

// ---- read-only records ----------------------------------------------------------------------------------

annotate service.Operations with @(
  Capabilities.InsertRestrictions.Insertable: false,
  Capabilities.UpdateRestrictions.Updatable : false,
  Capabilities.DeleteRestrictions.Deletable : false
) {
  error @UI.MultiLineText;
}
