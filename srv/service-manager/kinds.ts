import cds from '@sap/cds'
import { ServiceManagerClient } from './client'
import { ServiceManagerError } from './errors'
import { throttleFor, type ThrottleLimits } from './throttle'
import { settings } from '../lib/config'
import type { SMCredentials } from './client'

/**
 * What this module uses of the SM emulator (emulator/), which `kind: 'emulator'` loads on demand. Its full
 * type (`Emulator` of emulator/) is not imported here: a reference to emulator/, even a type-only one, would
 * compile it into the production build.
 */
export interface EmbeddedEmulator {
  url: string
  caPem?: string
  tenants: { subaccountId: string; clientid: string; clientsecret: string }[]
  close(): Promise<void>
}
/** the emulator's options (emulator/types.ts, EmulatorOptions), passed through as configured */
type EmulatorOptions = Record<string, unknown>
const EMULATOR_MODULE = '../../emulator'

/**
 * Where each subaccount's Service Manager is and how to reach it, by `cds.requires['service-manager'].kind`:
 * - `emulator`: the project's Service Manager emulator, started embedded on 127.0.0.1 (development, tests)
 * - `credentials`: SM service keys per subaccount GUID in `cds.requires['service-manager'].subaccounts`
 *   (e.g. from a user-provided service or environment variables)
 * - `destination`: a BTP destination per subaccount, named in the Subaccounts row
 */
export interface ServiceManagerConfig {
  kind: 'emulator' | 'credentials' | 'destination'
  emulator?: EmulatorOptions
  subaccounts?: Record<string, SMCredentials>
  client?: { timeoutMs?: number; pollInitialMs?: number; pollMaxMs?: number }
  /** client-side rate limits per subaccount (defaults: SM's documented limits), false = off; see throttle.ts */
  limits?: ThrottleLimits | false
}

export interface SubaccountRef {
  subaccountId: string
  displayName?: string
  destination?: string | null
}

export class ServiceManagerAccessError extends Error {
  code = 'SM_NOT_CONFIGURED'
  constructor(readonly subaccount: string) {
    super(`No Service Manager access is configured for subaccount ${subaccount}`)
  }
}

const LOG = cds.log('service-manager')
const clients = new Map<string, ServiceManagerClient>()
let emulator: Promise<EmbeddedEmulator> | undefined

export function config(): ServiceManagerConfig {
  return (cds.env.requires as unknown as Record<string, ServiceManagerConfig>)['service-manager'] ?? { kind: 'emulator' }
}

/**
 * The embedded emulator (kind `emulator`), started on first use and stopped with the server. Tests that use
 * more of it name its full type: `const emu: Emulator = await embeddedEmulator()`.
 */
export function embeddedEmulator<E extends EmbeddedEmulator = EmbeddedEmulator>(): Promise<E> {
  emulator ??= (async () => {
    // a module path tsc does not follow: the emulator (development and tests only) stays out of the production build
    const { startEmulator } = (await import(EMULATOR_MODULE)) as { startEmulator(o: EmulatorOptions): Promise<EmbeddedEmulator> }
    const emu = await startEmulator(config().emulator ?? {})
    LOG.info(`Service Manager emulator listening on ${emu.url}`)
    cds.once('shutdown', () => emu.close())
    return emu
  })()
  return emulator as Promise<E>
}

async function credentialsFor(sub: SubaccountRef): Promise<SMCredentials> {
  const cfg = config()
  if (cfg.kind === 'emulator') {
    const emu = await embeddedEmulator()
    const tenant = emu.tenants.find(t => t.subaccountId === sub.subaccountId)
    if (!tenant) throw new ServiceManagerAccessError(sub.displayName ?? sub.subaccountId)
    return { sm_url: emu.url, url: emu.url, clientid: tenant.clientid, clientsecret: tenant.clientsecret }
  }
  if (cfg.kind === 'credentials') {
    const creds = cfg.subaccounts?.[sub.subaccountId]
    if (!creds) throw new ServiceManagerAccessError(sub.displayName ?? sub.subaccountId)
    return creds
  }
  if (cfg.kind === 'destination') return destinationCredentials(sub)
  throw new ServiceManagerAccessError(sub.displayName ?? sub.subaccountId)
}

/**
 * Reads the subaccount's Service Manager access from the BTP destination named in its row (SAP Cloud SDK:
 * the destination service in Cloud Foundry, the `destinations` environment variable locally). The
 * destination is an OAuth2ClientCredentials destination: URL = sm_url, token service URL = the UAA's
 * `/oauth/token`.
 */
async function destinationCredentials(sub: SubaccountRef): Promise<SMCredentials> {
  const label = sub.displayName ?? sub.subaccountId
  if (!sub.destination) throw new ServiceManagerAccessError(label)
  const { getDestination } = await import('@sap-cloud-sdk/connectivity')
  let d
  try {
    d = await getDestination({ destinationName: sub.destination, useCache: true })
  } catch (e) {
    // no destination service bound (and not in the environment): a configuration problem, not worth a retry;
    // with the service bound, a failed look-up may pass: retry it like any unavailable remote
    if (!process.env.VCAP_SERVICES?.includes('"destination"')) throw new ServiceManagerAccessError(label)
    throw new ServiceManagerError({ code: 'DestinationUnavailable', description: (e as Error).message, retryable: true })
  }
  if (!d?.url || !d.clientId || !d.tokenServiceUrl) throw new ServiceManagerAccessError(label)
  return {
    sm_url: d.url,
    url: d.tokenServiceUrl.replace(/\/oauth\/token\/?$/, ''),
    clientid: d.clientId,
    clientsecret: d.clientSecret
  }
}

/** One client per subaccount (token cache included); the only way handlers reach Service Manager. */
export async function clientFor(sub: SubaccountRef): Promise<ServiceManagerClient> {
  const cached = clients.get(sub.subaccountId)
  if (cached) return cached
  const s = settings()
  // one throttle per subaccount (SM counts per caller), shared by all its clients in this process
  const throttle = throttleFor(sub.subaccountId)
  const client = new ServiceManagerClient(await credentialsFor(sub), {
    pollInitialMs: s.pollInitialMs,
    pollMaxMs: s.pollMaxMs,
    ...(config().client ?? {}),
    ...(throttle ? { throttle: throttle.hook, book: throttle.book.bind(throttle) } : {})
  })
  clients.set(sub.subaccountId, client)
  return client
}

/**
 * The client of a subaccount record (Subaccounts.ID), read in the current transaction: how request
 * handlers reach the Service Manager of the object they work on.
 */
export async function clientForSubaccount(ID: string): Promise<ServiceManagerClient> {
  const sub = (await SELECT.one.from('btp.provisioning.Subaccounts', ID).columns('subaccountId', 'displayName', 'destination')) as SubaccountRef | undefined
  if (!sub) throw new ServiceManagerAccessError(ID)
  return clientFor(sub)
}

/**
 * Extra CA certificate to trust for token endpoints of keys (the emulator's local CA); production uses the
 * system's trusted roots only.
 */
export async function trustedCa(): Promise<string | undefined> {
  if (config().kind !== 'emulator') return undefined
  return (await embeddedEmulator()).caPem
}

/** Forget cached clients (credentials changed, tests). */
export function resetClients() {
  clients.clear()
}
