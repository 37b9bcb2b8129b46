/*
 * Subaccounts app: the subaccounts we provision in and their cached Service Manager catalog.
 */
using ProvisioningService as service from '../../srv/provisioning-service';

annotate service.Subaccounts with @(
  UI.HeaderInfo           : {
    TypeName      : '{i18n>Subaccount}',
    TypeNamePlural: '{i18n>Subaccounts}',
    Title         : {Value: displayName},
    Description   : {Value: subaccountId}
  },
  UI.SelectionFields      : [
    region,
    globalAccount,
    health
  ],
  UI.LineItem             : [
    {
      Value                 : displayName,
      ![@UI.Importance]     : #High,
      ![@HTML5.CssDefaults]: {width: '14rem'}
    },
    {
      Value                 : subaccountId,
      ![@HTML5.CssDefaults]: {width: '20rem'}
    },
    {
      Value                 : region,
      ![@UI.Importance]     : #High,
      ![@HTML5.CssDefaults]: {width: '6rem'}
    },
    {
      Value                 : subdomain,
      ![@HTML5.CssDefaults]: {width: '10rem'}
    },
    {
      Value                 : globalAccount,
      ![@HTML5.CssDefaults]: {width: '10rem'}
    },
    {
      Value                 : health,
      Criticality           : healthState.criticality,
      ![@UI.Importance]     : #High,
      ![@HTML5.CssDefaults]: {width: '6rem'}
    },
    {
      Value                 : catalogSyncedAt,
      ![@HTML5.CssDefaults]: {width: '11rem'}
    },
    {
      $Type         : 'UI.DataFieldForAction',
      Action        : 'ProvisioningService.syncCatalog',
      Label         : '{i18n>SyncCatalog}',
      ![@UI.Hidden]: {$edmJson: {$Path: '/Me/administrationHidden'}}
    },
    {
      $Type         : 'UI.DataFieldForAction',
      Action        : 'ProvisioningService.sweep',
      Label         : '{i18n>Sweep}',
      ![@UI.Hidden]: {$edmJson: {$Path: '/Me/administrationHidden'}}
    }
  ],
  UI.PresentationVariant  : {
    SortOrder      : [{Property: displayName}],
    Visualizations: ['@UI.LineItem']
  },
  UI.Identification       : [
    {
      $Type         : 'UI.DataFieldForAction',
      Action        : 'ProvisioningService.syncCatalog',
      Label         : '{i18n>SyncCatalog}',
      ![@UI.Hidden]: {$edmJson: {$Path: '/Me/administrationHidden'}}
    },
    {
      $Type         : 'UI.DataFieldForAction',
      Action        : 'ProvisioningService.sweep',
      Label         : '{i18n>Sweep}',
      ![@UI.Hidden]: {$edmJson: {$Path: '/Me/administrationHidden'}}
    }
  ],
  UI.DataPoint #Health    : {
    Value      : health,
    Title      : '{i18n>Health}',
    Criticality: healthState.criticality
  },
  UI.DataPoint #Synced    : {
    Value: catalogSyncedAt,
    Title: '{i18n>CatalogSyncedAt}'
  },
  UI.HeaderFacets         : [
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'HealthHeader',
      Target: '@UI.DataPoint#Health'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'SyncedHeader',
      Target: '@UI.DataPoint#Synced'
    }
  ],
  UI.FieldGroup #General  : {Data: [
    {Value: displayName},
    {Value: subaccountId},
    {Value: subdomain},
    {Value: region},
    {Value: globalAccount}
  ]},
  UI.FieldGroup #Connection: {Data: [
    {Value: destination},
    {
      Value      : health,
      Criticality: healthState.criticality
    },
    {Value: catalogSyncedAt}
  ]},
  UI.FieldGroup #Changes  : {Data: [
    {Value: createdBy},
    {Value: createdAt},
    {Value: modifiedBy},
    {Value: modifiedAt}
  ]},
  UI.Facets               : [
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
          ID    : 'Connection',
          Label : '{i18n>ServiceManager}',
          Target: '@UI.FieldGroup#Connection'
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
      ID    : 'Plans',
      Label : '{i18n>Catalog}',
      Target: 'plans/@UI.PresentationVariant#Catalog'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'Offerings',
      Label : '{i18n>Offerings}',
      Target: 'offerings/@UI.PresentationVariant#Catalog'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'Instances',
      Label : '{i18n>Instances}',
      Target: 'instances/@UI.LineItem#OfSubaccount'
    },
    {
      $Type : 'UI.ReferenceFacet',
      ID    : 'Findings',
      Label : '{i18n>Findings}',
      Target: 'findings/@UI.PresentationVariant#OfSubaccount'
    }
  ]
);

// what a sweep found: orphans, vanished objects, stuck records, objects we did not create (to import)
annotate service.Findings with @(
  UI.HeaderInfo                      : {
    TypeName      : '{i18n>Finding}',
    TypeNamePlural: '{i18n>Findings}',
    Title         : {Value: name},
    Description   : {Value: category}
  },
  UI.LineItem #OfSubaccount          : [
    {
      Value            : category,
      ![@UI.Importance]: #High
    },
    {Value: resourceType},
    {
      Value            : name,
      ![@UI.Importance]: #High
    },
    {Value: smId},
    {Value: detail},
    {
      Value            : status,
      ![@UI.Importance]: #High
    },
    {Value: createdAt},
    {
      $Type         : 'UI.DataFieldForAction',
      Action        : 'ProvisioningService.adopt',
      Label         : '{i18n>Adopt}',
      ![@UI.Hidden]: {$edmJson: {$Path: '/Me/administrationHidden'}}
    },
    {
      $Type         : 'UI.DataFieldForAction',
      Action        : 'ProvisioningService.remove',
      Label         : '{i18n>RemoveFinding}',
      ![@UI.Hidden]: {$edmJson: {$Path: '/Me/administrationHidden'}}
    },
    {
      $Type         : 'UI.DataFieldForAction',
      Action        : 'ProvisioningService.ignore',
      Label         : '{i18n>IgnoreFinding}',
      ![@UI.Hidden]: {$edmJson: {$Path: '/Me/administrationHidden'}}
    }
  ],
  UI.PresentationVariant #OfSubaccount: {
    SortOrder      : [{
      Property  : createdAt,
      Descending: true
    }],
    Visualizations: ['@UI.LineItem#OfSubaccount']
  }
);

annotate service.ServiceOfferings with @(
  UI.LineItem #Catalog           : [
    {Value: name},
    {Value: description},
    {Value: bindable}
  ],
  UI.PresentationVariant #Catalog: {
    SortOrder      : [{Property: name}],
    Visualizations: ['@UI.LineItem#Catalog']
  }
);

annotate service.ServicePlans with @(
  UI.LineItem #Catalog           : [
    {Value: offering_ID},
    {Value: name},
    {Value: description},
    {Value: free},
    {
      Value      : entitled,
      Criticality: entitlement.criticality
    }
  ],
  UI.PresentationVariant #Catalog: {
    SortOrder      : [
      {Property: offering_ID},
      {Property: name}
    ],
    Visualizations: ['@UI.LineItem#Catalog']
  }
);

annotate service.ServiceInstances with @(UI.LineItem #OfSubaccount: [
  {Value: name},
  {Value: offering_ID},
  {Value: plan_ID},
  {
    Value      : state_code,
    Criticality: state.criticality
  }
]);
