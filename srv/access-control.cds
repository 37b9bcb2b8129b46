using {ProvisioningService as service} from './provisioning-service';

/*
 * Roles (XSUAA scopes and role templates, see xs-security.json and docs/security.md):
 *   Viewer            reads everything in its subaccounts
 *   Provisioner       creates and deletes service instances and keys, refreshes, verifies and rotates them
 *   CredentialReader  reads a key's credentials (live from Service Manager, audit-logged)
 *   Administrator     maintains subaccounts, templates and certificates, syncs catalogs
 *
 * The user attribute `Subaccount` (subaccount GUIDs) limits every role to the subaccounts listed.
 * An unrestricted attribute (XSUAA: no value in the token; mocked users: no attribute) grants all of them.
 * Keep `$user.Subaccount is null` first: @sap/cds 9 resolves a multi-valued attribute in `x = $user.Subaccount`
 * into a sub-expression and then skips the next `$user` reference of the same condition, which, left
 * unresolved, would make `is null` true (see docs/security.md).
 * CAP applies these conditions to READ, UPDATE, DELETE and bound actions; srv/lib/instance-auth.ts applies
 * them to the input of CREATE and UPDATE and to $expand.
 */

annotate service with @requires: [
  'Viewer',
  'Provisioner',
  'CredentialReader',
  'Administrator'
];

annotate service.Subaccounts with @restrict: [
  {
    grant: 'READ',
    to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
    where: ($user.Subaccount is null or subaccountId = $user.Subaccount)
  },
  {
    grant: ['CREATE', 'UPDATE', 'DELETE', 'syncCatalog', 'sweep'],
    to   : 'Administrator',
    where: ($user.Subaccount is null or subaccountId = $user.Subaccount)
  }
];

annotate service.ServiceOfferings with @restrict: [{
  grant: 'READ',
  to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
  where: ($user.Subaccount is null or subaccount.subaccountId = $user.Subaccount)
}];

annotate service.ServicePlans with @restrict: [{
  grant: 'READ',
  to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
  where: ($user.Subaccount is null or subaccount.subaccountId = $user.Subaccount)
}];

annotate service.ServiceInstances with @restrict: [
  {
    grant: 'READ',
    to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
    where: ($user.Subaccount is null or subaccount.subaccountId = $user.Subaccount)
  },
  {
    grant: ['CREATE', 'UPDATE', 'DELETE', 'refresh'],
    to   : 'Provisioner',
    where: ($user.Subaccount is null or subaccount.subaccountId = $user.Subaccount)
  }
];

annotate service.ServiceKeys with @restrict: [
  {
    grant: 'READ',
    to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
    where: ($user.Subaccount is null or instance.subaccount.subaccountId = $user.Subaccount)
  },
  {
    grant: ['CREATE', 'UPDATE', 'DELETE', 'refresh', 'verify', 'rotate'],
    to   : 'Provisioner',
    where: ($user.Subaccount is null or instance.subaccount.subaccountId = $user.Subaccount)
  },
  {
    grant: ['revealCredentials', 'downloadCredentials'],
    to   : 'CredentialReader',
    where: ($user.Subaccount is null or instance.subaccount.subaccountId = $user.Subaccount)
  }
];

annotate service.Operations with @restrict: [{
  grant: 'READ',
  to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
  where: ($user.Subaccount is null or subaccount.subaccountId = $user.Subaccount)
}];

annotate service.Templates with @restrict: [
  { grant: 'READ', to: ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'] },
  { grant: ['CREATE', 'UPDATE', 'DELETE'], to: 'Administrator' }
];

annotate service.Certificates with @restrict: [
  { grant: 'READ', to: ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'] },
  { grant: ['CREATE', 'UPDATE', 'DELETE'], to: 'Administrator' }
];

annotate service.scanExpiry with @requires: 'Administrator';

annotate service.Findings with @restrict: [
  {
    grant: 'READ',
    to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
    where: ($user.Subaccount is null or subaccount.subaccountId = $user.Subaccount)
  },
  {
    grant: ['adopt', 'remove', 'ignore'],
    to   : 'Administrator',
    where: ($user.Subaccount is null or subaccount.subaccountId = $user.Subaccount)
  }
];

annotate service.Registrations with @restrict: [
  {
    grant: 'READ',
    to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
    where: ($user.Subaccount is null or serviceKey.instance.subaccount.subaccountId = $user.Subaccount)
  },
  {
    grant: ['CREATE', 'DELETE'],
    to   : 'Provisioner',
    where: ($user.Subaccount is null or serviceKey.instance.subaccount.subaccountId = $user.Subaccount)
  }
];

// everyone who may use the service may ask what they may do
annotate service.Me with @restrict: [{
  grant: 'READ',
  to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator']
}];
