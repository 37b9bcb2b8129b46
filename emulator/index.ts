/**
 * SAP Service Manager emulator: a real HTTP server on 127.0.0.1 that behaves like hosted SM
 * (and its UAA token endpoint), with in-memory state, fault injection and call recording.
 * A second, HTTPS server (certUrl) is the UAA mTLS token endpoint of x509 clients; its server
 * certificate and all generated client certificates come from a local CA created at start (caPem).
 */
import http from 'http'
import https from 'https'
import { listen, stopServer, trackSockets } from './net'
import { randomBytes } from 'crypto'
import { TokenService } from './auth'
import { buildApp } from './app'
import { adminRouter } from './admin'
import { DEFAULT_CATALOG, defaultTenants } from './catalog'
import { CatalogIndex } from './catalog-index'
import { DEFAULT_CREDENTIAL_FACTORIES } from './credentials'
import { FaultBook } from './faults'
import { LocalCa } from './pki'
import { RateLimiter } from './ratelimit'
import { Store } from './store'
import type { CertificateIssuer } from './credentials'
import type { ClientCertificateOptions, Emulator, EmulatorOptions, Fault, RecordedCall } from './types'

export type { ClientCertificateOptions, Emulator, EmulatorOptions, EmulatorTenant, Fault, JsonDocument, PlantBinding, PlantInstance, RecordedCall } from './types'
export type { AdminFault } from './admin'
export type {
  CertificateIssuer,
  CredentialFactory,
  CredentialRequest,
  CredentialTools,
  ClientRegistration,
  IssuedCredentials,
  PeerBinding,
  X509Registration
} from './credentials'
export { LocalCa } from './pki'
export { X509_KEY_LENGTHS, X509_MAX_VALIDITY, X509_VALIDITY_TYPES, validityEnd } from './x509'
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

const DAY_MS = 24 * 60 * 60 * 1000

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const tenants = opts.tenants ?? defaultTenants()
  let url = ''
  let certUrl = ''
  const ca = await LocalCa.create()
  const issuer: CertificateIssuer = {
    async issueClientCertificate(o) {
      const issued = await ca.issue({ subject: o.subject, key: { type: 'rsa', bits: o.keyLength }, notBefore: o.notBefore, notAfter: o.notAfter, usage: 'client' })
      return { ...issued, subject: issued.cert.subject, issuer: issued.cert.issuer }
    }
  }
  // the emulator's time for certificate validity: moved by tests (advanceClock, admin POST /clock)
  let clockOffset = 0
  const clock = () => Date.now() + clockOffset
  const tokens = new TokenService(() => tenants, opts.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS, () => url)
  const store = new Store({
    catalog: new CatalogIndex(opts.catalog ?? DEFAULT_CATALOG),
    tokens,
    tenants: () => tenants,
    url: () => url,
    certUrl: () => certUrl,
    ca: issuer,
    credentialFactories: { ...DEFAULT_CREDENTIAL_FACTORIES, ...(opts.credentialTypes ?? {}) },
    operationMs: opts.operationMs ?? 0,
    operationMaxMs: opts.operationMaxMs,
    now: clock
  })
  const faults = new FaultBook()
  const limiter = new RateLimiter(opts.rateLimit?.windowMs)
  const calls: RecordedCall[] = []
  const timers = new Set<NodeJS.Timeout>()
  const log = opts.log === true ? (line: string) => console.log(line) : typeof opts.log === 'function' ? opts.log : undefined

  const common = { store, tokens, faults, limiter, calls, tenants: () => tenants, url: () => url, certUrl: () => certUrl, opts, log, timers, now: clock }
  // the admin API refers to the emulator object, which exists once the servers listen
  const admin = opts.admin ? adminRouter(() => emulator, () => faults.pending) : undefined
  const server = http.createServer(buildApp({ ...common, mode: 'plain', admin }))
  const sockets = trackSockets(server)

  const now = Date.now()
  const serverCert = await ca.issue({
    subject: 'CN=127.0.0.1, O=SAP Service Manager Emulator',
    key: { type: 'ec' },
    notBefore: new Date(now - 60 * 60 * 1000),
    notAfter: new Date(now + 365 * DAY_MS),
    usage: 'server',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1']
  })
  const tlsServer = https.createServer(
    {
      key: serverCert.keyPem,
      cert: serverCert.chainPem,
      // ask every client for a certificate, accept any: the token endpoint decides per client
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2'
    },
    buildApp({ ...common, mode: 'mtls' })
  )
  const tlsSockets = trackSockets(tlsServer)

  const port = await listen(server, opts.port ?? 0)
  url = `http://127.0.0.1:${port}`
  let tlsPort: number
  try {
    tlsPort = await listen(tlsServer, opts.tlsPort ?? 0)
  } catch (e) {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    throw e
  }
  certUrl = `https://127.0.0.1:${tlsPort}`

  let closing: Promise<void> | undefined
  const emulator: Emulator = {
    url,
    port,
    certUrl,
    tlsPort,
    caPem: ca.pem,
    async issueClientCertificate(o: ClientCertificateOptions) {
      if (!o || typeof o.cn !== 'string' || !o.cn) throw new Error('issueClientCertificate: cn is required')
      const notBefore = o.notBefore ?? new Date(Date.now() - 60 * 1000)
      const notAfter = o.notAfter ?? new Date(notBefore.getTime() + (o.days ?? 30) * DAY_MS)
      const cn = o.cn.replace(/[,+="\\<>;#]/g, (c) => `\\${c}`)
      const issued = await ca.issue({
        subject: `CN=${cn}, O=Emulator Test Clients`,
        key: { type: 'rsa', bits: o.keyLength ?? 2048 },
        notBefore,
        notAfter,
        usage: 'client'
      })
      return { certPem: issued.certPem, keyPem: issued.keyPem }
    },
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
    plant(kind, obj, o) {
      store.settle(Date.now())
      if (kind === 'instance') return store.plantInstance(obj, Date.now())
      if (kind === 'binding') return o?.wait ? store.plantBinding(obj, Date.now(), true) : store.plantBinding(obj, Date.now())
      throw new Error(`plant: unknown kind ${String(kind)}`)
    },
    remove(kind, id) {
      store.settle(Date.now())
      store.remove(kind, id, Date.now())
    },
    revokeBinding(id: string) {
      tokens.revokeBinding(id)
    },
    rotateTenantSecret(subaccountId: string, o: { secret?: string; revokeTokens?: boolean } = {}) {
      const tenant = tenants.find((t) => t.subaccountId === subaccountId)
      if (!tenant) throw new Error(`rotateTenantSecret: no tenant for subaccount ${subaccountId}`)
      tenant.clientsecret = o.secret ?? randomBytes(24).toString('base64url')
      if (o.revokeTokens !== false) tokens.revokeClientTokens(tenant.clientid)
      return tenant.clientsecret
    },
    now: clock,
    advanceClock(ms: number) {
      if (!Number.isFinite(ms)) throw new Error('advanceClock: a finite number of milliseconds is needed')
      clockOffset += ms
      return clockOffset
    },
    resetClock() {
      clockOffset = 0
    },
    reset() {
      clockOffset = 0
      store.reset()
      faults.clear()
      limiter.clear()
      calls.length = 0
    },
    close() {
      if (!closing) {
        for (const t of timers) clearTimeout(t)
        timers.clear()
        closing = Promise.all([stopServer(server, sockets), stopServer(tlsServer, tlsSockets)]).then(() => undefined)
      }
      return closing
    }
  }
  return emulator
}
