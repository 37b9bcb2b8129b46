using {btp.provisioning as db} from './schema';

/*
 * Indexes: what the Fiori apps sort and filter their lists by, the foreign keys (joins, $expand, and the
 * `Subaccount` restriction's paths: a key's own copy of its subaccount, an instance's subaccount), and what
 * background duties look rows up by.
 * `@indexes` lists them per entity: a name and its columns (`-` in front: descending). A list's sort column is
 * followed by the key: CAP adds it to every paged ORDER BY as the tie-break.
 * SQLite and PostgreSQL: created by db/init.js when the schema is deployed. HANA: db/src/*.hdbindex, written
 * from these annotations by `npm run indexes:hana` (test/indexes.test.ts checks that they match).
 */

annotate db.Subaccounts with @indexes: [
  // the Subaccounts app sorts by display name; every restriction ends at the GUID
  {name: 'displayName', columns: ['displayName', 'ID']},
  {name: 'subaccountId', columns: ['subaccountId']}
];

annotate db.ServiceOfferings with @indexes: [{name: 'subaccount', columns: ['subaccount_ID']}];

annotate db.ServicePlans with @indexes: [
  {name: 'subaccount', columns: ['subaccount_ID']},
  {name: 'offering', columns: ['offering_ID']}
];

annotate db.ServiceInstances with @indexes: [
  // the Service Instances app: newest first
  {name: 'modifiedAt', columns: ['-modifiedAt', 'ID']},
  // a user limited to some subaccounts: their instances, newest first
  {name: 'subaccountModified', columns: ['subaccount_ID', '-modifiedAt', 'ID']},
  {name: 'subaccount', columns: ['subaccount_ID', 'name']},
  {name: 'plan', columns: ['plan_ID']},
  {name: 'offering', columns: ['offering_ID']},
  {name: 'name', columns: ['name']},
  {name: 'reconcileAt', columns: ['reconcileAt']}
];

annotate db.ServiceKeys with @indexes: [
  // the Service Keys app: newest first
  {name: 'modifiedAt', columns: ['-modifiedAt', 'ID']},
  // a user limited to some subaccounts: their keys, newest first, and their count
  {name: 'subaccount', columns: ['subaccount_ID', '-modifiedAt', 'ID']},
  {name: 'instance', columns: ['instance_ID']},
  {name: 'certificate', columns: ['certificate_ID']},
  {name: 'rotatedFrom', columns: ['rotatedFrom_ID']},
  {name: 'expiresAt', columns: ['expiresAt']},
  {name: 'reconcileAt', columns: ['reconcileAt']}
];

annotate db.Certificates with @indexes: [
  // the Certificates app: soonest end of validity first
  {name: 'notAfter', columns: ['notAfter', 'ID']}
];

annotate db.Registrations with @indexes: [
  {name: 'serviceKey', columns: ['serviceKey_ID']},
  {name: 'consumer', columns: ['consumerType', 'tenant']}
];

annotate db.Operations with @indexes: [
  {name: 'instance', columns: ['instance_ID', '-createdAt']},
  {name: 'serviceKey', columns: ['serviceKey_ID', '-createdAt']},
  {name: 'subaccount', columns: ['subaccount_ID']},
  {name: 'state', columns: ['state_code']}
];

annotate db.Findings with @indexes: [{name: 'subaccount', columns: ['subaccount_ID', '-createdAt']}];

// the reconciler looks up due provisioning flows as it does instances and keys
annotate db.Provisionings with @indexes: [{name: 'reconcileAt', columns: ['reconcileAt']}];

// a key's delivery finds its subaccount's Destination service
annotate db.DestinationTargets with @indexes: [{name: 'subaccount', columns: ['subaccount_ID']}];
