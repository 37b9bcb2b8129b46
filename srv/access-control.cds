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
 * the token) reaches all of them; a client-credentials token (another application's technical user) reaches
 * the subaccounts an Administrator mapped its application to (ConsumerApps, srv/lib/technical-users.ts), and
 * none without an entry (docs/security.md).
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
    where: ($user.Subaccount is null or subaccount.subaccountId in $user.Subaccount)
  },
  {
    grant: ['CREATE', 'UPDATE', 'DELETE', 'refresh', 'verify', 'rotate'],
    to   : 'Provisioner',
    where: ($user.Subaccount is null or subaccount.subaccountId in $user.Subaccount)
  },
  {
    grant: ['revealCredentials', 'downloadCredentials'],
    to   : 'CredentialReader',
    where: ($user.Subaccount is null or subaccount.subaccountId in $user.Subaccount)
  }
];

// a key's subaccount is its instance's (srv/lib/key-scope.ts): where the key is within reach, so is its
// instance (srv/lib/instance-auth.ts adds no condition to `$expand=instance` or to paths through it)
annotate service.ServiceKeys with {
  instance @instanceAuth.same: ['subaccount'];
};

// an instance's plan and offering are its subaccount's (create, plan change, adopt and catalog sync take them
// from the instance's subaccount only), and a plan's offering is the plan's: the Service Instances list's
// `$expand=offering,plan` needs no condition of its own
annotate service.ServiceInstances with {
  offering @instanceAuth.same: ['subaccount'];
  plan     @instanceAuth.same: ['subaccount'];
};

annotate service.ServicePlans with {
  offering @instanceAuth.same: ['subaccount'];
};

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
    where: ($user.Subaccount is null or serviceKey.subaccount.subaccountId in $user.Subaccount)
  },
  {
    grant: ['CREATE', 'DELETE'],
    to   : 'Provisioner',
    where: ($user.Subaccount is null or serviceKey.subaccount.subaccountId in $user.Subaccount)
  }
];

// the Destination service keys of consumer subaccounts (srv/destinations/): Administrators only
annotate service.DestinationTargets with @restrict: [
  {
    grant: 'READ',
    to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
    where: ($user.Subaccount is null or subaccount.subaccountId in $user.Subaccount)
  },
  {
    grant: ['CREATE', 'UPDATE', 'DELETE'],
    to   : 'Administrator',
    where: ($user.Subaccount is null or subaccount.subaccountId in $user.Subaccount)
  }
];

// which subaccounts another application's technical user may use (srv/lib/technical-users.ts): an
// Administrator maps an application only to subaccounts within the Administrator's own reach
annotate service.ConsumerApps with @restrict: [{
  grant: ['READ', 'CREATE', 'UPDATE', 'DELETE'],
  to   : 'Administrator'
}];

annotate service.ConsumerAppSubaccounts with @restrict: [{
  grant: ['READ', 'CREATE', 'DELETE'],
  to   : 'Administrator',
  where: ($user.Subaccount is null or subaccount.subaccountId in $user.Subaccount)
}];

// everyone who may use the service may ask what they may do
annotate service.Me with @restrict: [{
  grant: 'READ',
  to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator']
}];

// provisioning flows belong to their subaccount; `provision` checks the subaccount against the attribute itself
annotate service.Provisionings with @restrict: [{
  grant: 'READ',
  to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
  where: ($user.Subaccount is null or subaccount.subaccountId in $user.Subaccount)
}];

annotate service.ProvisioningSteps with @restrict: [{
  grant: 'READ',
  to   : ['Viewer', 'Provisioner', 'CredentialReader', 'Administrator'],
  where: ($user.Subaccount is null or provisioning.subaccount.subaccountId in $user.Subaccount)
}];

annotate service.provision with @requires: 'Provisioner';
