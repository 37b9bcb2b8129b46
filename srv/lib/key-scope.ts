import cds from '@sap/cds'
import { ServiceInstances } from '#cds-models/btp/provisioning'

/**
 * The columns a service key row copies from its instance: its subaccount. A key never moves to another
 * instance and an instance never to another subaccount, so the copy, made whenever a key row is written with
 * its instance, stays true. The `Subaccount` restriction of keys and registrations (srv/access-control.cds)
 * and the lists' index (db/indexes.cds) use the key's own column instead of two joins through the instance.
 *
 * Every place that writes a key row with `instance_ID` spreads `await keyScope(...)` into the row: the key
 * create handler and rotate (srv/provisioning-service.ts), adopting a key (srv/sweep.ts). Rows written
 * before the column existed get it at deploy (db/init.js) and at start-up (`backfillKeyScope`).
 */
export interface KeyScope {
  subaccount_ID: string | null
}

/** A key's scope, from its instance: the instance's ID, or the instance row when the caller has it already. */
export async function keyScope(instance: string | { ID?: unknown; subaccount_ID?: unknown }): Promise<KeyScope> {
  if (typeof instance === 'object' && (typeof instance.subaccount_ID === 'string' || instance.subaccount_ID === null))
    return { subaccount_ID: instance.subaccount_ID }
  const ID = typeof instance === 'object' ? instance.ID : instance
  if (typeof ID !== 'string') return { subaccount_ID: null }
  const row = await SELECT.one.from(ServiceInstances, ID, i => i.subaccount_ID)
  return { subaccount_ID: row?.subaccount_ID ?? null }
}

/**
 * Gives key rows that lack their scope (written before the column existed) their instance's, in one statement
 * that SQLite, PostgreSQL and HANA all run (unquoted names: CAP's plain naming); the number of rows updated.
 * Idempotent, and cheap when there is nothing to do (the column leads an index).
 */
export const BACKFILL_KEY_SCOPE =
  'UPDATE btp_provisioning_ServiceKeys SET subaccount_ID = (SELECT i.subaccount_ID FROM btp_provisioning_ServiceInstances i WHERE i.ID = btp_provisioning_ServiceKeys.instance_ID) ' +
  'WHERE subaccount_ID IS NULL AND instance_ID IS NOT NULL'

export async function backfillKeyScope(): Promise<number> {
  // plain SQL answers with { changes } (SQLite, PostgreSQL) or the number itself
  const result = (await cds.db.run(BACKFILL_KEY_SCOPE)) as number | { changes?: number } | undefined
  return Number(typeof result === 'object' ? result?.changes : result) || 0
}
