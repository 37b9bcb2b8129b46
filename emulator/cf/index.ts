/**
 * Cloud Foundry v3 API emulator: a real HTTP server on 127.0.0.1 with a UAA token endpoint (password grant of
 * the `cf` client, as the cf CLI and the Terraform provider use it), orgs, spaces and roles, the marketplace,
 * managed service instances and credential bindings of type key with asynchronous jobs, paging, label
 * selectors, CF's rate-limit headers, fault injection, a log of what it received and an admin API.
 *
 * With `serviceManager` (the SM emulator), instances and keys created through CF appear in Service Manager too,
 * with the CF platform, and keys get their credentials from it: as on BTP, where CF's marketplace is served by
 * the subaccount's Service Manager.
 */
import http from 'http'
import { listen, stopServer, trackSockets } from '../net'
import { DEFAULT_CATALOG, DEV_SUBACCOUNT_1_ID, DEV_SUBACCOUNT_2_ID } from '../catalog'
import { buildCfApp, cfAdminRouter, CfTokens } from './app'
import { CfStore } from './store'
import type { CfEmulator, CfEmulatorOptions, CfFault, CfOrgSeed, CfRecordedCall, CfUser } from './types'

export type * from './types'
export { CF_PLATFORM, parseLabelSelector, matchesSelector } from './store'

/** The technical user of the dev orgs (dev only). */
export const DEV_CF_USER = 'cf-technical-user@example.com'
export const DEV_CF_PASSWORD = 'dev-only-cf-password'

export const DEFAULT_CF_USERS: CfUser[] = [{ username: DEV_CF_USER, password: DEV_CF_PASSWORD }]

/**
 * One org per dev subaccount (test/data): ACME Integration's has the single space `dev` (the default space of
 * seed 002), ACME Cloud ALM's has `dev` and `prod` (a request must name one); the technical user is Space
 * Developer everywhere.
 */
export const DEFAULT_CF_ORGS: CfOrgSeed[] = [
  { name: 'acme-integration', subaccountId: DEV_SUBACCOUNT_1_ID, spaces: [{ name: 'dev', roles: { space_developer: [DEV_CF_USER] } }] },
  {
    name: 'acme-calm',
    subaccountId: DEV_SUBACCOUNT_2_ID,
    spaces: [
      { name: 'dev', roles: { space_developer: [DEV_CF_USER] } },
      { name: 'prod', roles: { space_developer: [DEV_CF_USER] } }
    ]
  }
]

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

export async function startCfEmulator(options: CfEmulatorOptions = {}): Promise<CfEmulator> {
  let url = ''
  const opts = {
    ...options,
    users: clone(options.users ?? DEFAULT_CF_USERS),
    orgs: clone(options.orgs ?? DEFAULT_CF_ORGS),
    catalog: options.catalog ?? DEFAULT_CATALOG.map(o => ({ name: o.name, description: o.description, plans: o.plans.map(p => ({ name: p.name, description: p.description })) }))
  }
  const store = new CfStore(opts, () => `${url}/uaa`, options.serviceManager)
  const calls: CfRecordedCall[] = []
  const faults: CfFault[] = []
  const tokens = new CfTokens(options.tokenTtlSeconds ?? 1199)
  const admin = options.admin ? cfAdminRouter(() => self) : undefined
  const server = http.createServer(buildCfApp({ store, opts, url: () => url, calls, faults, admin }, tokens))
  const sockets = trackSockets(server)
  const port = await listen(server, options.port ?? 0)
  url = `http://127.0.0.1:${port}`
  let closing: Promise<void> | undefined
  const settled = () => (store.settle(Date.now()), store)
  const self: CfEmulator = {
    url,
    uaaUrl: `${url}/uaa`,
    users: store.users,
    calls,
    addFault: f => faults.push({ ...f }),
    clearFaults: () => void faults.splice(0),
    orgs: () => store.orgList,
    spaces: orgGuid => store.spaceList.filter(s => !orgGuid || s.orgGuid === orgGuid),
    roles: () => store.roleList,
    instances: () =>
      [...settled().instanceMap.values()].map(i => {
        const plan = store.plans.find(p => p.guid === i.planGuid)
        return { ...i, space: store.spaceList.find(s => s.guid === i.spaceGuid)?.name ?? '', plan: plan?.name ?? '', offering: store.offerings.find(o => o.guid === plan?.offeringGuid)?.name ?? '' }
      }),
    bindings: () => [...settled().bindingMap.values()],
    jobs: () => [...settled().jobMap.values()],
    addSpace: (org, space) => store.addSpace(org, space),
    setSpaceRole: (space, username, type, present) => store.setSpaceRole(space, username, type, present),
    reset() {
      store.seed()
      faults.splice(0)
      calls.length = 0
    },
    close() {
      closing ??= stopServer(server, sockets)
      return closing
    }
  }
  return self
}
