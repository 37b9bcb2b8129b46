/*
 * Certificates app: upload a client certificate (PEM, public part only) and read its parsed facts.
 */
using ProvisioningService as service from '../../srv/provisioning-service';

annotate service.Certificates with @(
  UI.HeaderInfo          : {
    TypeName      : '{i18n>Certificate}',
    TypeNamePlural: '{i18n>Certificates}',
    Title         : {Value: name},
    Description   : {Value: subject}
  },
  UI.SelectionFields     : [
    expiry_code,
    notAfter,
    keyAlgorithm,
    clientAuth
  ],
  UI.LineItem            : [
    {
      Value                 : name,
      ![@UI.Importance]     : #High,
      ![@HTML5.CssDefaults]: {width: '12rem'}
    },
    {
      Value                 : subject,
      ![@HTML5.CssDefaults]: {width: '14rem'}
    },
    {
      Value                 : issuer,
      ![@HTML5.CssDefaults]: {width: '14rem'}
    },
    {
      Value                 : notAfter,
      Criticality           : expiry.criticality,
      ![@UI.Importance]     : #High,
      ![@HTML5.CssDefaults]: {width: '11rem'}
    },
    {
      Value                 : expiry_code,
      Criticality           : expiry.criticality,
      ![@UI.Importance]     : #High,
      ![@HTML5.CssDefaults]: {width: '7rem'}
    },
    {
      Value                 : daysLeft,
      ![@HTML5.CssDefaults]: {width: '6rem'}
    },
    {
      Value                 : keyAlgorithm,
      ![@HTML5.CssDefaults]: {width: '7rem'}
    },
    {
      Value                 : clientAuth,
      ![@HTML5.CssDefaults]: {width: '7rem'}
    }
  ],
  UI.PresentationVariant : {
    SortOrder      : [{Property: notAfter}],
    Visualizations: ['@UI.LineItem']
  },
  UI.DataPoint #Expiry   : {
    Value      : expiry_code,
    Title      : '{i18n>Expiry}',
    Criticality: expiry.criticality
  },
  UI.DataPoint #DaysLeft : {
    Value: daysLeft,
    Title: '{i18n>DaysLeft}'
  },
  UI.HeaderFacets        : [
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'ExpiryHeader',
      Target: '@UI.DataPoint#Expiry'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'DaysLeftHeader',
      Target: '@UI.DataPoint#DaysLeft'
    }
  ],
  UI.FieldGroup #Upload  : {Data: [
    {Value: name},
    {Value: pem}
  ]},
  UI.FieldGroup #Facts   : {Data: [
    {Value: subject},
    {Value: issuer},
    {Value: serialNumber},
    {Value: notBefore},
    {
      Value      : notAfter,
      Criticality: expiry.criticality
    },
    {Value: fingerprint},
    {Value: keyAlgorithm},
    {Value: keySize},
    {Value: clientAuth}
  ]},
  UI.FieldGroup #Changes : {Data: [
    {Value: createdBy},
    {Value: createdAt},
    {Value: modifiedBy},
    {Value: modifiedAt}
  ]},
  UI.Facets              : [
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'Facts',
      Label : '{i18n>CertificateFacts}',
      Target: '@UI.FieldGroup#Facts'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'Upload',
      Label : '{i18n>Pem}',
      Target: '@UI.FieldGroup#Upload'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'Keys',
      Label : '{i18n>KeysUsingCertificate}',
      Target: 'keys/@UI.LineItem#OfCertificate'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'Changes',
      Label : '{i18n>Changes}',
      Target: '@UI.FieldGroup#Changes'
    }
  ]
);

annotate service.ServiceKeys with @(UI.LineItem #OfCertificate: [
  {Value: name},
  {Value: instance_ID},
  {
    Value      : state_code,
    Criticality: state.criticality
  },
  {Value: expiresAt}
]);
