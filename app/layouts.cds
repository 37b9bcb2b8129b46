/*
 * Layouts shared by several apps: the operations history and the registrations of a key.
 */
using ProvisioningService as service from '../srv/provisioning-service';

annotate service.Operations with @(
  UI.HeaderInfo                  : {
    TypeName      : '{i18n>Operation}',
    TypeNamePlural: '{i18n>Operations}',
    Title         : {Value: type},
    Description   : {Value: targetType}
  },
  UI.LineItem #History           : [
    {Value: createdAt},
    {Value: type},
    {Value: targetType},
    {
      Value      : state_code,
      Criticality: state.criticality
    },
    {Value: attempts},
    {Value: startedAt},
    {Value: finishedAt},
    {Value: error}
  ],
  UI.PresentationVariant #History: {
    SortOrder      : [{
      Property  : createdAt,
      Descending: true
    }],
    Visualizations: ['@UI.LineItem#History']
  }
);
