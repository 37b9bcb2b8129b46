/**
 * SAP Service Manager emulator: a real HTTP server on 127.0.0.1 that behaves like hosted SM
 * (and its UAA token endpoint), with in-memory state, fault injection and call recording.
 */
import http from 'http'
import type { AddressInfo, Socket } from 'net'
import { TokenService } from './auth'
import { buildApp } from './app'
import { DEFAULT_CATALOG, defaultTenants } from './catalog'
import { CatalogIndex } from './catalog-index'
import { DEFAULT_CREDENTIAL_FACTORIES } from './credentials'
import { FaultBook } from './faults'
import { RateLimiter } from './ratelimit'
import { Store } from './store'
import type { Emulator, EmulatorOptions, Fault, RecordedCall } from './types'

export type { Emulator, EmulatorOptions, EmulatorTenant, Fault, RecordedCall } from './types'
export type { CredentialFactory, CredentialRequest, CredentialTools, ClientRegistration, IssuedCredentials } from './credentials'
export type { CatalogOffering, CatalogPlan, CredentialShape } from './catalog'
export {
  DEFAULT_CATALOG,
  DEFAULT_TENANTS,
  DEV_SUBACCOUNT_1_ID,
  DEV_SUBACCOUNT_2_ID,
  DEV_TENANT_1_CLIENT_ID,
  DEV_TENANT_1_CLIENT_SECRET,
  DEV_TENANT_2_CLIENT_ID,
  DEV_TENANT_2_CLIENT_SECRET,
  offeringId,
  planId
} from './catalog'

export const DEFAULT_TOKEN_TTL_SECONDS = 43199

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const tenants = opts.tenants ?? defaultTenants()
  let url = ''
  const tokens = new TokenService(() => tenants, opts.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS, () => url)
  const store = new Store({
    catalog: new CatalogIndex(opts.catalog ?? DEFAULT_CATALOG),
    tokens,
    tenants: () => tenants,
    url: () => url,
    credentialFactories: { ...DEFAULT_CREDENTIAL_FACTORIES, ...(opts.credentialTypes ?? {}) },
    operationMs: opts.operationMs ?? 0
  })
  const faults = new FaultBook()
  const limiter = new RateLimiter()
  const calls: RecordedCall[] = []
  const timers = new Set<NodeJS.Timeout>()
  const log = opts.log === true ? (line: string) => console.log(line) : typeof opts.log === 'function' ? opts.log : undefined

  const app = buildApp({ store, tokens, faults, limiter, calls, tenants: () => tenants, url: () => url, opts, log, timers })
  const server = http.createServer(app)
  const sockets = new Set<Socket>()
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  url = `http://127.0.0.1:${port}`

  let closing: Promise<void> | undefined
  const emulator: Emulator = {
    url,
    port,
    tenants,
    calls,
    addFault: (f: Fault) => faults.add(f),
    clearFaults: () => faults.clear(),
    instances(subaccountId?: string) {
      store.settle(Date.now())
      return store.instances(subaccountId)
    },
    bindings(subaccountId?: string) {
      store.settle(Date.now())
      return store.bindings(subaccountId)
    },
    plant(kind, obj) {
      store.settle(Date.now())
      if (kind === 'instance') return store.plantInstance(obj, Date.now())
      if (kind === 'binding') return store.plantBinding(obj, Date.now())
      throw new Error(`plant: unknown kind ${String(kind)}`)
    },
    remove(kind, id) {
      store.settle(Date.now())
      store.remove(kind, id, Date.now())
    },
    revokeBinding(id: string) {
      tokens.revokeBinding(id)
    },
    reset() {
      store.reset()
      faults.clear()
      limiter.clear()
      calls.length = 0
    },
    close() {
      if (!closing) {
        closing = new Promise<void>((resolve) => {
          for (const t of timers) clearTimeout(t)
          timers.clear()
          server.close(() => resolve())
          for (const s of sockets) s.destroy()
        })
      }
      return closing
    }
  }
  return emulator
}
