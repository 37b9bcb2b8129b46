/*
 * The baseline of the list-query benchmark (bench/list-query.ts): a bare CAP service over the same schema
 * and data as ProvisioningService, without handlers, authorization or annotations, serving the same four
 * list requests. Loaded only by the benchmark (through cds.requires['bench-bare'].model), never by the app.
 */
using {btp.provisioning as btp} from '../db/schema';

@path: '/odata/v4/bare'
service Bare {
  entity Subaccounts        as projection on btp.Subaccounts;
  entity ServiceOfferings   as projection on btp.ServiceOfferings;
  entity ServicePlans       as projection on btp.ServicePlans;
  entity ServiceInstances   as projection on btp.ServiceInstances;
  entity ServiceKeys        as projection on btp.ServiceKeys;
  entity Certificates       as projection on btp.Certificates;
  entity LifecycleStates    as projection on btp.LifecycleStates;
  entity ExpiryStates       as projection on btp.ExpiryStates;
  entity VerificationStates as projection on btp.VerificationStates;
}
