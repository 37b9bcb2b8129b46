using {ProvisioningService as service} from './provisioning-service';

annotate service with @requires: [
  'Viewer',
  'Provisioner',
  'CredentialReader',
  'Administrator'
];

annotate service.Subaccounts with @restrict: [
  { grant: 'READ', to: ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'] },
  { grant: ['CREATE', 'UPDATE', 'DELETE', 'syncCatalog'], to: 'Administrator' }
];

annotate service.ServiceInstances with @restrict: [
  { grant: 'READ', to: ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'] },
  { grant: ['CREATE', 'UPDATE', 'DELETE', 'refresh'], to: 'Provisioner' }
];

annotate service.ServiceKeys with @restrict: [
  { grant: 'READ', to: ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'] },
  { grant: ['CREATE', 'UPDATE', 'DELETE', 'refresh'], to: 'Provisioner' }
];

annotate service.Templates with @restrict: [
  { grant: 'READ', to: ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'] },
  { grant: ['CREATE', 'UPDATE', 'DELETE'], to: 'Administrator' }
];
