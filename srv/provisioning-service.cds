using {btp.provisioning as db} from '../db/schema';

/**
 * Provisions service instances and keys in BTP subaccounts through their Service Manager.
 * Creating or deleting returns at once; the remote work runs in the persistent queue.
 */
@path: '/odata/v4/provisioning'
service ProvisioningService {

  entity Subaccounts      as projection on db.Subaccounts
    actions {
      /** Refresh the cached catalog (offerings, entitled plans) from Service Manager. */
      action syncCatalog() returns Subaccounts;
    };

  @readonly
  entity ServiceOfferings as projection on db.ServiceOfferings;

  @readonly
  entity ServicePlans     as projection on db.ServicePlans;

  entity ServiceInstances as projection on db.ServiceInstances
    actions {
      /** Read the instance from Service Manager again and update its state. */
      action refresh() returns ServiceInstances;
    };

  entity ServiceKeys      as projection on db.ServiceKeys
    actions {
      /** Read the key from Service Manager again and update its state and credential metadata. */
      action refresh() returns ServiceKeys;
    };

  @readonly
  entity Operations       as projection on db.Operations;

  entity Templates        as projection on db.Templates;

  @readonly
  entity LifecycleStates  as projection on db.LifecycleStates;

  @readonly
  entity OperationStates  as projection on db.OperationStates;

  @readonly
  entity VerificationStates as projection on db.VerificationStates;
}
