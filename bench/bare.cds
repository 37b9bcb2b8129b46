/*
 * The baseline of the list-query benchmark (bench/list-query.ts): a bare CAP service over the same schema
 * and data as ProvisioningService, without handlers, authorization or annotations. Loaded only by the
 * benchmark (through cds.requires['bench-bare'].model), never by the app.
 */
using {btp.provisioning as btp} from '../db/schema';

@path: '/odata/v4/bare'
service Bare {
  entity ServiceKeys      as projection on btp.ServiceKeys;
  entity ServiceInstances as projection on btp.ServiceInstances;
}
