import cds from '@sap/cds'
import type { Request, Service } from '@sap/cds'
import type { NextFunction, Request as HttpRequest, Response } from 'express'
import { ConsumerApps, ConsumerAppSubaccounts, Subaccounts } from '#cds-models/btp/provisioning'
import type { ConsumerApp, ConsumerAppSubaccount, Subaccount } from '#cds-models/btp/provisioning'
import { shown } from './naming'
import { SUBACCOUNT } from './instance-auth'

/**
 * Technical users of other applications: a consumer application calls this service with a client-credentials
 * token of its own XSUAA instance, which holds our scopes as authorities (xs-security.json:
 * `grant-as-authority-to-apps`) but no user attributes. An Administrator maps each consumer application (the
 * token's client ID or the application's xsappname) to the subaccounts it may use (`ConsumerApps`).
 *
 * `technicalUsers()` runs right after authentication: for a client-credentials token of a mapped application
 * it replaces the request's user by one named after the client ID, with the token's scopes as roles and the
 * mapped subaccounts' GUIDs as its `Subaccount` attribute, so every `$user.Subaccount` restriction of
 * srv/access-control.cds applies to it unchanged (a mapping without subaccounts: an empty list, none). That
 * user is no longer CAP's `system-user` (which srv/lib/instance-auth.ts lets reach no subaccount), and what it
 * creates and changes records its client ID as `createdBy` / `modifiedBy`. A
 * client-credentials token of an application without an entry stays as it is: a system user, which reaches
 * no subaccount (srv/lib/instance-auth.ts), whatever its scopes. Tokens of this application's own client
 * (CAP's internal user) are never mapped.
 */
export function technicalUsers() {
  return async function technical_users(_req: HttpRequest, _res: Response, next: NextFunction) {
    const ctx = cds.context
    const user = ctx?.user
    if (!ctx || !user || !user.is('system-user') || user.is('internal-user')) return next()
    try {
      const clientId = clientIdOf(user)
      const subaccounts = clientId ? await mappedSubaccounts(clientId) : undefined
      if (clientId && subaccounts) ctx.user = technicalUser(user, clientId, subaccounts)
      next()
    } catch (e) {
      LOG.error('Looking up the consumer application of a technical user failed:', e instanceof Error ? e.message : String(e))
      next(e)
    }
  }
}

const LOG = cds.log('technical-users')

/** The client ID of the token the user came with (`cid`), if any. */
function clientIdOf(user: cds.User): string | undefined {
  const auth = (user as { authInfo?: { token?: { getClientId?: () => string; getPayload?: () => Record<string, unknown> } } }).authInfo
  const id = auth?.token?.getClientId?.() ?? auth?.token?.getPayload?.().cid
  return typeof id === 'string' && id ? id : undefined
}

/** What an Administrator may have entered for the client: the client ID, or the xsappname it was made for. */
export function clientIdCandidates(clientId: string): string[] {
  return clientId.startsWith('sb-') ? [clientId, clientId.slice(3)] : [clientId]
}

/** The subaccount GUIDs the application of `clientId` may use; undefined when it has no entry. */
export async function mappedSubaccounts(clientId: string): Promise<string[] | undefined> {
  const apps = (await SELECT.from(ConsumerApps).columns('ID').where({ clientId: { in: clientIdCandidates(clientId) } })) as Pick<ConsumerApp, 'ID'>[]
  if (!apps.length) return undefined
  const rows = (await SELECT.from(ConsumerAppSubaccounts)
    .columns('subaccount.subaccountId as subaccountId')
    .where({ app_ID: { in: apps.map(a => a.ID) } })) as { subaccountId: string | null }[]
  return [...new Set(rows.map(r => r.subaccountId).filter((v): v is string => typeof v === 'string' && v !== ''))].sort()
}

/** The user a mapped application acts as: its client ID, the token's scopes, the mapped subaccounts. */
function technicalUser(user: cds.User, clientId: string, subaccounts: string[]): cds.User {
  const roles: Record<string, 1> = {}
  for (const [role, granted] of Object.entries((user as unknown as { roles: Record<string, unknown> }).roles ?? {}))
    if (granted && role !== 'system-user' && role !== 'internal-user') roles[role] = 1
  const attr: Record<string, unknown> = { [SUBACCOUNT]: subaccounts }
  return new cds.User({ id: clientId, roles, attr, authInfo: (user as { authInfo?: unknown }).authInfo } as unknown as ConstructorParameters<typeof cds.User>[0])
}

// ---- maintaining the mapping ------------------------------------------------------------------------

const CLIENT_ID = /^\S{1,255}$/

/** The checks of ConsumerApps and their subaccounts, on the service that serves them. */
export function guardConsumerApps(srv: Service) {
  const entities = srv.entities as Record<string, unknown>
  if (!entities.ConsumerApps || !entities.ConsumerAppSubaccounts) return

  srv.before(['CREATE', 'UPDATE'], 'ConsumerApps', async (req: Request) => {
    const d = req.data as { ID?: string; clientId?: unknown }
    if (d.clientId === undefined && req.event === 'UPDATE') return
    const clientId = typeof d.clientId === 'string' ? d.clientId.trim() : ''
    const given = d.clientId === undefined || d.clientId === null || typeof d.clientId === 'string' ? (d.clientId ?? '') : JSON.stringify(d.clientId)
    if (!CLIENT_ID.test(clientId)) return req.reject(400, 'CONSUMER_APP_CLIENT_ID_INVALID', 'clientId', [shown(given)])
    d.clientId = clientId
    // one entry per application, whichever of its names it was entered under
    const names = [...new Set([...clientIdCandidates(clientId), `sb-${clientId}`])]
    const other = (await SELECT.one.from(ConsumerApps).columns('ID', 'clientId').where({ clientId: { in: names } })) as Pick<ConsumerApp, 'ID' | 'clientId'> | undefined
    const self = req.event === 'UPDATE' ? ((req.params?.[0] as { ID?: string } | string | undefined) ?? undefined) : undefined
    const selfId = typeof self === 'string' ? self : self?.ID
    if (other && other.ID !== selfId) return req.reject(409, 'CONSUMER_APP_EXISTS', 'clientId', [shown(other.clientId)])
  })

  srv.before('CREATE', 'ConsumerAppSubaccounts', async (req: Request) => {
    const d = req.data as { app_ID?: string; subaccount_ID?: string }
    const app = d.app_ID ? ((await SELECT.one.from(ConsumerApps, d.app_ID).columns('clientId')) as Pick<ConsumerApp, 'clientId'> | undefined) : undefined
    const sub = d.subaccount_ID ? ((await SELECT.one.from(Subaccounts, d.subaccount_ID).columns('displayName')) as Pick<Subaccount, 'displayName'> | undefined) : undefined
    if (!sub) return req.reject(400, 'SUBACCOUNT_UNKNOWN', 'subaccount_ID', [shown(d.subaccount_ID ?? '')])
    if (!app) return
    const same = (await SELECT.one.from(ConsumerAppSubaccounts).columns('ID').where({ app_ID: d.app_ID, subaccount_ID: d.subaccount_ID })) as Pick<ConsumerAppSubaccount, 'ID'> | undefined
    if (same) return req.reject(409, 'CONSUMER_APP_SUBACCOUNT_EXISTS', 'subaccount_ID', [shown(app.clientId), shown(sub.displayName)])
  })
}
