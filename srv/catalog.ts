import cds from '@sap/cds'
import type { Request } from '@sap/cds'
import { ServiceOfferings, ServicePlans, Subaccounts, type Subaccount } from '#cds-models/btp/provisioning'
import { clientFor, ServiceManagerAccessError } from './service-manager/kinds'
import { ServiceManagerError } from './service-manager/errors'

/** The columns of a subaccount a catalog sync reads. */
type CatalogSubaccount = Pick<Subaccount, 'ID' | 'subaccountId' | 'displayName' | 'destination'>

/**
 * Refreshes a subaccount's cached catalog from Service Manager: offerings and the plans it lists (the
 * entitled ones). Plans we knew that Service Manager no longer lists stay, marked not entitled.
 */
export async function syncCatalog(sub: CatalogSubaccount, req: Request) {
  let offerings, plans
  try {
    const sm = await clientFor({ subaccountId: sub.subaccountId ?? '', displayName: sub.displayName ?? undefined, destination: sub.destination })
    ;[offerings, plans] = await Promise.all([sm.listOfferings(), sm.listPlans()])
  } catch (e) {
    if (e instanceof ServiceManagerAccessError) return req.reject({ status: 422, message: 'SM_NOT_CONFIGURED', args: [sub.displayName] })
    // a 429 is no sign of an unreachable SM: retried within the request, then 503 SM_RATE_LIMITED with Retry-After
    if (e instanceof ServiceManagerError && e.status === 429) throw e
    if (e instanceof ServiceManagerError) {
      await UPDATE(Subaccounts, sub.ID).with({ health: 'unreachable' })
      const status = e.status === 401 || e.status === 403 ? 502 : 503
      // $sanitize: false keeps the code in production (CAP hides 5xx messages there)
      return req.reject({ status, message: 'SM_UNAVAILABLE', args: [sub.displayName, e.description ?? e.code], $sanitize: false } as { status: number; message: string })
    }
    throw e
  }

  const knownOfferings = await SELECT.from(ServiceOfferings).columns('ID', 'smId').where({ subaccount_ID: sub.ID })
  const offeringIds = new Map<string, string>()
  for (const o of offerings) {
    const mine = knownOfferings.find(k => k.smId === o.id)
    const displayName = typeof o.metadata?.displayName === 'string' ? o.metadata.displayName.slice(0, 255) : null
    const row = { name: o.name, displayName, description: o.description ?? null, bindable: o.bindable !== false, planUpdateable: o.plan_updateable === true, smId: o.id, subaccount_ID: sub.ID }
    if (mine) await UPDATE(ServiceOfferings, mine.ID).with(row)
    else await INSERT.into(ServiceOfferings).entries({ ID: cds.utils.uuid(), ...row })
    const ID = mine?.ID ?? (await SELECT.one.from(ServiceOfferings).columns('ID').where({ subaccount_ID: sub.ID, smId: o.id }))?.ID
    if (ID) offeringIds.set(o.id, ID)
  }

  const knownPlans = await SELECT.from(ServicePlans).columns('ID', 'smId').where({ subaccount_ID: sub.ID })
  const listed = new Set<string>()
  for (const p of plans) {
    const offering_ID = offeringIds.get(p.service_offering_id)
    if (!offering_ID) continue
    listed.add(p.id)
    const mine = knownPlans.find(k => k.smId === p.id)
    const row = { name: p.name, description: p.description ?? null, free: !!p.free, smId: p.id, offering_ID, subaccount_ID: sub.ID, entitled: true }
    if (mine) await UPDATE(ServicePlans, mine.ID).with(row)
    else await INSERT.into(ServicePlans).entries({ ID: cds.utils.uuid(), ...row })
  }
  const gone = knownPlans.filter(k => !k.smId || !listed.has(k.smId)).map(k => k.ID)
  if (gone.length) await UPDATE(ServicePlans).set({ entitled: false }).where({ ID: { in: gone } })
  await UPDATE(Subaccounts, sub.ID).with({ catalogSyncedAt: new Date().toISOString(), health: 'ok' })
}
