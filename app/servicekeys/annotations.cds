/*
 * Service Keys app: list report and object page of the keys. Shows credential metadata only;
 * secrets are read through the revealCredentials action, never as fields.
 */
using ProvisioningService as service from '../../srv/provisioning-service';

annotate service.ServiceKeys with @(
  UI.HeaderInfo            : {
    TypeName      : '{i18n>Key}',
    TypeNamePlural: '{i18n>Keys}',
    Title         : {Value: name},
    Description   : {Value: instance_ID}
  },
  UI.SelectionFields       : [
    instance_ID,
    credentialType,
    state_code,
    verification_code,
    expiry_code,
    expiresAt
  ],
  UI.LineItem              : [
    {
      Value                 : name,
      ![@UI.Importance]     : #High,
      ![@HTML5.CssDefaults]: {width: '12rem'}
    },
    {
      Value                 : instance_ID,
      ![@UI.Importance]     : #High,
      ![@HTML5.CssDefaults]: {width: '12rem'}
    },
    {
      Value                 : credentialType,
      ![@HTML5.CssDefaults]: {width: '9rem'}
    },
    {
      Value                 : state_code,
      Criticality           : state.criticality,
      ![@UI.Importance]     : #High,
      ![@HTML5.CssDefaults]: {width: '7rem'}
    },
    {
      Value                 : verification_code,
      Criticality           : verification.criticality,
      ![@UI.Importance]     : #High,
      ![@HTML5.CssDefaults]: {width: '7rem'}
    },
    {
      Value                 : verifiedAt,
      ![@HTML5.CssDefaults]: {width: '11rem'}
    },
    {
      Value                 : expiresAt,
      Criticality           : expiry.criticality,
      ![@UI.Importance]     : #High,
      ![@HTML5.CssDefaults]: {width: '11rem'}
    },
    {
      $Type         : 'UI.DataFieldForAction',
      Action        : 'ProvisioningService.verify',
      Label         : '{i18n>Verify}',
      ![@UI.Hidden]: {$edmJson: {$Path: '/Me/provisioningHidden'}}
    },
    {
      $Type         : 'UI.DataFieldForAction',
      Action        : 'ProvisioningService.rotate',
      Label         : '{i18n>Rotate}',
      ![@UI.Hidden]: {$edmJson: {$Path: '/Me/provisioningHidden'}}
    },
    {
      $Type         : 'UI.DataFieldForAction',
      Action        : 'ProvisioningService.refresh',
      Label         : '{i18n>Refresh}',
      ![@UI.Hidden]: {$edmJson: {$Path: '/Me/provisioningHidden'}}
    }
  ],
  UI.PresentationVariant   : {
    SortOrder      : [{
      Property  : modifiedAt,
      Descending: true
    }],
    Visualizations: ['@UI.LineItem']
  },
  UI.Identification        : [
    {
      $Type         : 'UI.DataFieldForAction',
      Action        : 'ProvisioningService.verify',
      Label         : '{i18n>Verify}',
      ![@UI.Hidden]: {$edmJson: {$Path: '/Me/provisioningHidden'}}
    },
    {
      $Type         : 'UI.DataFieldForAction',
      Action        : 'ProvisioningService.rotate',
      Label         : '{i18n>Rotate}',
      ![@UI.Hidden]: {$edmJson: {$Path: '/Me/provisioningHidden'}}
    },
    {
      $Type         : 'UI.DataFieldForAction',
      Action        : 'ProvisioningService.refresh',
      Label         : '{i18n>Refresh}',
      ![@UI.Hidden]: {$edmJson: {$Path: '/Me/provisioningHidden'}}
    }
  ],
  UI.DataPoint #State      : {
    Value      : state_code,
    Title      : '{i18n>State}',
    Criticality: state.criticality
  },
  UI.DataPoint #Verification: {
    Value      : verification_code,
    Title      : '{i18n>Verification}',
    Criticality: verification.criticality
  },
  UI.DataPoint #Expiry     : {
    Value      : expiresAt,
    Title      : '{i18n>ExpiresAt}',
    Criticality: expiry.criticality
  },
  UI.HeaderFacets          : [
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'StateHeader',
      Target: '@UI.DataPoint#State'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'VerificationHeader',
      Target: '@UI.DataPoint#Verification'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'ExpiryHeader',
      Target: '@UI.DataPoint#Expiry'
    }
  ],
  UI.FieldGroup #General   : {Data: [
    {Value: name},
    {Value: instance_ID},
    {Value: credentialType},
    {Value: rotatedFrom_ID}
  ]},
  UI.FieldGroup #X509      : {Data: [
    {Value: certificate_ID},
    {Value: keyLength},
    {Value: validity},
    {Value: validityType}
  ]},
  UI.FieldGroup #Parameters: {Data: [{Value: parametersText}]},
  // rotation: the lineage (read-only) and the policy (the only fields of a key that may change)
  UI.FieldGroup #Rotation  : {Data: [
    {Value: rotatedFrom_ID},
    {Value: rotatedTo_ID},
    {Value: rotatedAt},
    {Value: rotationReason},
    {Value: retireAt},
    {Value: rotationError},
    {Value: rotateEveryDays},
    {Value: rotateBeforeExpiryDays},
    {Value: rotationOverlapHours}
  ]},
  UI.FieldGroup #Credentials: {Data: [
    {Value: clientId},
    {Value: tokenUrl},
    {Value: apiUrl},
    {Value: certFingerprint},
    {
      Value      : expiresAt,
      Criticality: expiry.criticality
    }
  ]},
  UI.FieldGroup #Verification: {Data: [
    {
      Value      : verification_code,
      Criticality: verification.criticality
    },
    {Value: verifiedAt},
    {Value: verifyStatus},
    {Value: verifyLatency},
    {Value: verifyMessage}
  ]},
  UI.FieldGroup #Status    : {Data: [
    {
      Value      : state_code,
      Criticality: state.criticality
    },
    {Value: smId},
    {
      Value: lastOperation.type,
      Label: '{i18n>LastOperation}'
    },
    {
      Value      : lastOperation.state_code,
      Label      : '{i18n>LastOperationState}',
      Criticality: lastOperation.state.criticality
    },
    {Value: lastError}
  ]},
  UI.FieldGroup #Changes   : {Data: [
    {Value: createdBy},
    {Value: createdAt},
    {Value: modifiedBy},
    {Value: modifiedAt}
  ]},
  UI.Facets                : [
    {
      $Type : 'UI.CollectionFacet',
      ID    : 'Overview',
      Label : '{i18n>Overview}',
      Facets: [
        {
          $Type : 'UI.ReferenceFacet',
          ID    : 'General',
          Label : '{i18n>General}',
          Target: '@UI.FieldGroup#General'
        },
        {
          $Type : 'UI.ReferenceFacet',
          ID    : 'X509',
          Label : '{i18n>X509}',
          Target: '@UI.FieldGroup#X509'
        },
        {
          $Type : 'UI.ReferenceFacet',
          ID    : 'Status',
          Label : '{i18n>Status}',
          Target: '@UI.FieldGroup#Status'
        },
        {
          $Type : 'UI.ReferenceFacet',
          ID    : 'Changes',
          Label : '{i18n>Changes}',
          Target: '@UI.FieldGroup#Changes'
        }
      ]
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'Credentials',
      Label : '{i18n>CredentialMetadata}',
      Target: '@UI.FieldGroup#Credentials'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'Verification',
      Label : '{i18n>Verification}',
      Target: '@UI.FieldGroup#Verification'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'Rotation',
      Label : '{i18n>Rotation}',
      Target: '@UI.FieldGroup#Rotation'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'Parameters',
      Label : '{i18n>Parameters}',
      Target: '@UI.FieldGroup#Parameters'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'Registrations',
      Label : '{i18n>Registrations}',
      Target: 'registrations/@UI.LineItem'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'History',
      Label : '{i18n>OperationsHistory}',
      Target: 'operations/@UI.PresentationVariant#History'
    }
  ]
);

annotate service.Registrations with @(
  UI.HeaderInfo: {
    TypeName      : '{i18n>Registration}',
    TypeNamePlural: '{i18n>Registrations}',
    Title         : {Value: tenant},
    Description   : {Value: consumerType}
  },
  UI.LineItem  : [
    {Value: consumerType},
    {Value: tenant},
    {Value: status},
    {Value: createdAt}
  ]
);
