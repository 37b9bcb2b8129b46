using {ProvisioningService as service} from './provisioning-service';

/*
 * Roles (XSUAA scopes and role templates, see xs-security.json and docs/security.md):
 *   Viewer            reads everything in its subaccounts
 *   Provisioner       creates and deletes service instances and keys, refreshes, verifies and rotates them
 *   CredentialReader  reads a key's credentials (live from Service Manager, audit-logged)
 *   Administrator     maintains subaccounts, templates and certificates, syncs catalogs
 *
 * The user attribute `Subaccount` (subaccount GUIDs) limits every role to the subaccounts listed; an empty
 * list grants none. A named user without the attribute (XSUAA: the attribute left unrestricted, absent from
 * the token) reaches all of them; a client-credentials token reaches none (docs/security.md).
 * srv/lib/instance-auth.ts hands CAP the attribute either absent or as a list of at least two values, so that
 * `$user.Subaccount is null` resolves to a constant and `x in $user.Subaccount` to a list compared with a
 * column: no untyped parameter reaches the database (PostgreSQL refuses `$1 is null`).
 * CAP applies these conditions to READ, UPDATE, DELETE and bound actions; srv/lib/instance-auth.ts applies
 * them to the input of CREATE and UPDATE, to $expand and to paths in $filter and $orderby.
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
    where: ($user.Subaccount is null or subaccountId in $user.Subaccount)
  },
  {
    grant: ['CREATE', 'UPDATE', 'DELETE', 'syncCatalog', 'sweep'],
    to   : 'Administrator',
    where: ($user.Subaccount is null or subaccountId in $user.Subaccount)
  }
];

annotate service.ServiceOfferings with @restrict: [{
  grant: 'READ',
  to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
  where: ($user.Subaccount is null or subaccount.subaccountId in $user.Subaccount)
}];

annotate service.ServicePlans with @restrict: [{
  grant: 'READ',
  to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
  where: ($user.Subaccount is null or subaccount.subaccountId in $user.Subaccount)
}];

annotate service.ServiceInstances with @restrict: [
  {
    grant: 'READ',
    to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
    where: ($user.Subaccount is null or subaccount.subaccountId in $user.Subaccount)
  },
  {
    grant: ['CREATE', 'UPDATE', 'DELETE', 'refresh'],
    to   : 'Provisioner',
    where: ($user.Subaccount is null or subaccount.subaccountId in $user.Subaccount)
  }
];

annotate service.ServiceKeys with @restrict: [
  {
    grant: 'READ',
    to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
    where: ($user.Subaccount is null or instance.subaccount.subaccountId in $user.Subaccount)
  },
  {
    grant: ['CREATE', 'UPDATE', 'DELETE', 'refresh', 'verify', 'rotate'],
    to   : 'Provisioner',
    where: ($user.Subaccount is null or instance.subaccount.subaccountId in $user.Subaccount)
  },
  {
    grant: ['revealCredentials', 'downloadCredentials'],
    to   : 'CredentialReader',
    where: ($user.Subaccount is null or instance.subaccount.subaccountId in $user.Subaccount)
  }
];

annotate service.Operations with @restrict: [{
  grant: 'READ',
  to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
  where: ($user.Subaccount is null or subaccount.subaccountId in $user.Subaccount)
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
    where: ($user.Subaccount is null or subaccount.subaccountId in $user.Subaccount)
  },
  {
    grant: ['adopt', 'remove', 'ignore'],
    to   : 'Administrator',
    where: ($user.Subaccount is null or subaccount.subaccountId in $user.Subaccount)
  }
];

annotate service.Registrations with @restrict: [
  {
    grant: 'READ',
    to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
    where: ($user.Subaccount is null or serviceKey.instance.subaccount.subaccountId in $user.Subaccount)
  },
  {
    grant: ['CREATE', 'DELETE'],
    to   : 'Provisioner',
    where: ($user.Subaccount is null or serviceKey.instance.subaccount.subaccountId in $user.Subaccount)
  }
];

// everyone who may use the service may ask what they may do
annotate service.Me with @restrict: [{
  grant: 'READ',
  to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator']
}];
