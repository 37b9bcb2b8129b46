/*
 * Service Instances app: list report and object page of the instances, with their keys and operations.
 */
using ProvisioningService as service from '../../srv/provisioning-service';

annotate service.ServiceInstances with @(
  UI.HeaderInfo                  : {
    TypeName      : '{i18n>Instance}',
    TypeNamePlural: '{i18n>Instances}',
    Title         : {Value: name},
    Description   : {Value: offering_ID}
  },
  UI.SelectionFields             : [
    subaccount_ID,
    offering_ID,
    plan_ID,
    state_code
  ],
  UI.LineItem                    : [
    {
      Value                 : name,
      ![@UI.Importance]     : #High,
      ![@HTML5.CssDefaults]: {width: '14rem'}
    },
    {
      Value                 : subaccount_ID,
      ![@UI.Importance]     : #High,
      ![@HTML5.CssDefaults]: {width: '14rem'}
    },
    {
      Value                 : offering_ID,
      ![@HTML5.CssDefaults]: {width: '12rem'}
    },
    {
      Value                 : plan_ID,
      ![@UI.Importance]     : #High,
      ![@HTML5.CssDefaults]: {width: '9rem'}
    },
    {
      Value                 : environment,
      ![@HTML5.CssDefaults]: {width: '8rem'}
    },
    {
      Value                 : state_code,
      Criticality           : state.criticality,
      ![@UI.Importance]     : #High,
      ![@HTML5.CssDefaults]: {width: '8rem'}
    },
    {
      Value                 : modifiedAt,
      ![@HTML5.CssDefaults]: {width: '12rem'}
    },
    {
      $Type         : 'UI.DataFieldForAction',
      Action        : 'ProvisioningService.refresh',
      Label         : '{i18n>Refresh}',
      ![@UI.Hidden]: {$edmJson: {$Path: '/Me/provisioningHidden'}}
    }
  ],
  UI.PresentationVariant         : {
    SortOrder      : [{
      Property  : modifiedAt,
      Descending: true
    }],
    Visualizations: ['@UI.LineItem']
  },
  UI.Identification              : [{
    $Type         : 'UI.DataFieldForAction',
    Action        : 'ProvisioningService.refresh',
    Label         : '{i18n>Refresh}',
    ![@UI.Hidden]: {$edmJson: {$Path: '/Me/provisioningHidden'}}
  }],
  UI.DataPoint #State            : {
    Value      : state_code,
    Title      : '{i18n>State}',
    Criticality: state.criticality
  },
  UI.HeaderFacets                : [
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'StateHeader',
      Target: '@UI.DataPoint#State'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'PlacementHeader',
      Target: '@UI.FieldGroup#Placement'
    }
  ],
  UI.FieldGroup #Placement       : {Data: [
    {Value: subaccount_ID},
    {Value: plan_ID}
  ]},
  UI.FieldGroup #General         : {Data: [
    {Value: name},
    {Value: subaccount_ID},
    {Value: plan_ID},
    {Value: offering_ID},
    {Value: environment},
    {Value: space},
    {Value: template_ID}
  ]},
  UI.FieldGroup #Parameters      : {Data: [{Value: parametersText}]},
  UI.FieldGroup #Status          : {Data: [
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
    {
      Value: lastOperation.finishedAt,
      Label: '{i18n>LastOperationFinishedAt}'
    },
    {Value: lastError}
  ]},
  UI.FieldGroup #Changes         : {Data: [
    {Value: createdBy},
    {Value: createdAt},
    {Value: modifiedBy},
    {Value: modifiedAt}
  ]},
  UI.Facets                      : [
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
      ID    : 'Parameters',
      Label : '{i18n>Parameters}',
      Target: '@UI.FieldGroup#Parameters'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'Keys',
      Label : '{i18n>Keys}',
      Target: 'keys/@UI.LineItem#OfInstance'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'History',
      Label : '{i18n>OperationsHistory}',
      Target: 'operations/@UI.PresentationVariant#History'
    }
  ]
);

// the instance's keys, as listed on its object page
annotate service.ServiceKeys with @(UI.LineItem #OfInstance: [
  {Value: name},
  {Value: credentialType},
  {
    Value      : state_code,
    Criticality: state.criticality
  },
  {
    Value      : verification_code,
    Criticality: verification.criticality
  },
  {Value: expiresAt},
  {Value: createdAt}
]);
