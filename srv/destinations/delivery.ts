/**
 * Keys delivered into BTP destinations: a registration of consumer type `destination` names a destination
 * (`tenant`) in the Destination service of a consumer subaccount (DestinationTargets, one service key per
 * subaccount, registered by an Administrator). The registration is the desired state (its key, Active or not);
 * what the destination holds is observed (`deliveredKey`). A small reconciler in every process writes the key's
 * credentials into the destination after the registration's transaction committed (never in a request's answer),
 * replaces them when a rotation's hand-over moves the registration to the successor, deletes the destination
 * when the registration ends, and tries again with a backoff when the Destination service or Service Manager
 * fails. Rows are taken under a lease (a conditional update), so several processes share the work.
 *
 * Rotation: `deliverAfterHandOver` holds the old key's retirement while a destination still holds it; once every
 * destination holds the successor, the old key's overlap starts (retired after `cds.provisioning.rotationOverlap`).
 */
import cds from '@sap/cds'
import os from 'node:os'
import type { Request } from '@sap/cds'
import type { Registration, ServiceKey } from '#cds-models/btp/provisioning'
import { DesiredState, DestinationTargets, LifecycleStateCode, Registrations, ServiceInstances, ServiceKeys, Subaccounts } from '#cds-models/btp/provisioning'
import { DestinationTarget as TargetView, Registration as RegistrationView } from '#cds-models/ProvisioningService'
import { settings } from '../lib/config'
import { writeAuditRecord } from '../lib/audit'
import { apiUrlOf, isX509, oauthPart, tokenUrlOf } from '../lib/credentials'
import { subaccountScope } from '../lib/instance-auth'
import { platformFor } from '../cloud-foundry/platform'
import { Orchestrator } from '../orchestrator'
import { config as smConfig, embeddedEmulator } from '../service-manager/kinds'
import { DestinationServiceError, putCertificate, putDestination, remove, type DestinationTarget } from './client'
import { onServed, onShutdown } from '../lib/app-events'
import * as clock from '../lib/clock'
import { enterAppContext } from '../lib/system-context'

const LOG = cds.log('destinations')
const now = () => new Date().toISOString()
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString()
const OWNER = `${os.hostname().slice(0, 30)}:${process.pid}:${cds.utils.uuid().slice(0, 8)}`

type Json = Record<string, unknown>
/** Active: the registration's destination holds its key. */
const ACTIVE = 'Active' satisfies Registration['status']

/** Whether a row as read has its key (every stored row has). */
const isStored = <T extends { ID?: string | null }>(row: T | null | undefined): row is T & { ID: string } => typeof row?.ID === 'string'

/** The ID of the row a request addresses: its data's, else its key (`{ ID }` or the ID itself). */
function idOf(req: Request<{ ID?: string | null }>): string | undefined {
  const p: unknown = req.params.at(-1)
  const key = p && typeof p === 'object' && 'ID' in p ? p.ID : p
  return req.data?.ID ?? (typeof key === 'string' ? key : undefined)
}

export const CONSUMER_TYPE = 'destination'
/** Destination names as the Destination service takes them. */
const DESTINATION_NAME = /^[A-Za-z0-9_-]{1,200}$/
/** the name of a BTP destination holding a Destination service key (DestinationTargets.destination) */
const BTP_DESTINATION = /^[A-Za-z0-9_-]{1,128}$/
/** rows one process delivers at the same time */
const BATCH = 8

/** A delivery that cannot go on now (the key is not Ready, the target is gone); tried again later. */
class DeliveryProblem extends Error {}

// ---- what a destination holds ----------------------------------------------------------------------------

/** The certificate file of an X.509 destination, named after it. */
export const certificateName = (destination: string) => `${destination}.pem`

/**
 * The destination for a key's credentials: OAuth2ClientCredentials with the key's token URL and client ID, and
 * its client secret or (generated X.509) a client certificate stored next to it in the Destination service.
 */
export function destinationFor(name: string, key: ServiceKey, credentials: Json): { destination: Record<string, string>; certificate?: { Name: string; Type: string; Content: string } } {
  const oauth = oauthPart(credentials)
  const tokenServiceURL = tokenUrlOf(credentials)
  const clientId = typeof oauth.clientid === 'string' ? oauth.clientid : undefined
  if (!tokenServiceURL || !clientId) throw new DeliveryProblem(`The credentials of key "${key.name}" have no token URL or client ID`)
  const destination: Record<string, string> = {
    Name: name,
    Type: 'HTTP',
    URL: apiUrlOf(credentials) ?? (typeof oauth.url === 'string' ? oauth.url : tokenServiceURL),
    ProxyType: 'Internet',
    Authentication: 'OAuth2ClientCredentials',
    tokenServiceURL,
    clientId,
    Description: `Service key ${key.name}, delivered by the service key manager`,
    'serviceKeyManager.serviceKey': key.ID ?? ''
  }
  if (!isX509(credentials)) {
    if (typeof oauth.clientsecret !== 'string') throw new DeliveryProblem(`The credentials of key "${key.name}" have no client secret`)
    return { destination: { ...destination, clientSecret: oauth.clientsecret } }
  }
  const cert = typeof oauth.certificate === 'string' ? oauth.certificate : undefined
  const privateKey = typeof oauth.key === 'string' ? oauth.key : undefined
  if (!cert || !privateKey) throw new DeliveryProblem(`The credentials of key "${key.name}" hold no certificate with its private key`)
  const file = certificateName(name)
  return {
    destination: { ...destination, 'tokenService.KeyStoreLocation': file },
    certificate: { Name: file, Type: 'CERTIFICATE', Content: Buffer.from(`${cert.trim()}\n${privateKey.trim()}\n`, 'utf8').toString('base64') }
  }
}

/**
 * Why a key cannot be registered for delivery into destination `name` (undefined: it can): the service never
 * holds the private key of an own certificate, and the name must be one the Destination service takes. Part of
 * every registration's checks (srv/provision.ts registrationProblem), `provision`'s preflight included.
 */
export function deliveryProblem(key: ServiceKey, consumerType: string, name: string): { status: number; code: string; target: string; args: unknown[] } | undefined {
  if (consumerType !== CONSUMER_TYPE) return undefined
  if (key.certificate_ID) return { status: 422, code: 'KEY_NOT_DELIVERABLE', target: 'serviceKey_ID', args: [key.name] }
  if (typeof name !== 'string' || !DESTINATION_NAME.test(name)) return { status: 400, code: 'DESTINATION_NAME_INVALID', target: 'tenant', args: [String(name ?? '')] }
  return undefined
}

/** The Destination service a registration writes into: its own, else the one of its key's subaccount. */
async function targetOf(reg: Registration): Promise<DestinationTarget> {
  if (reg.destinationTarget_ID) {
    const target = await SELECT.one.from(DestinationTargets, reg.destinationTarget_ID)
    if (!isStored(target)) throw new DeliveryProblem('The Destination service of the registration is no longer registered')
    return target
  }
  const key = reg.serviceKey_ID ? await SELECT.one.from(ServiceKeys, reg.serviceKey_ID).columns('subaccount_ID') : undefined
  const target = key?.subaccount_ID ? await SELECT.one.from(DestinationTargets).where({ subaccount_ID: key.subaccount_ID }) : undefined
  if (isStored(target)) return target
  const sub = key?.subaccount_ID ? await SELECT.one.from(Subaccounts, key.subaccount_ID).columns('displayName') : undefined
  throw new DeliveryProblem(`No Destination service is registered for subaccount ${sub?.displayName ?? key?.subaccount_ID}: an Administrator registers one (DestinationTargets)`)
}

// ---- the reconciler -------------------------------------------------------------------------------------

let timer: NodeJS.Timeout | undefined
let ticking = false
let again = false
let stopped = false
const running = new Set<Promise<void>>()

/** Looks for due deliveries now (after a change in this process). */
export function wakeDelivery() {
  if (stopped) return
  clearTimeout(timer)
  timer = setTimeout(() => {
    enterAppContext()
    void tick()
  }, 0).unref()
}

/** Wakes the delivery once the current transaction has committed. */
function wakeAfterCommit() {
  // a request's context: on('succeeded') after its commit (cds.EventContext's type does not name it)
  const ctx = cds.context as unknown as { on?: (event: string, fn: () => void) => void } | undefined
  if (ctx?.on) ctx.on('succeeded', wakeDelivery)
  else wakeDelivery()
}

/** Registrations whose destination is not what they ask for, due now. */
function dueRows(t: string) {
  return SELECT.from(Registrations)
    .columns('ID')
    .where`consumerType = ${CONSUMER_TYPE} and (deliverAt is null or deliverAt <= ${t}) and (deliveryLeaseUntil is null or deliveryLeaseUntil < ${t}) and (
      delivery in ${['pending', 'failed']}
      or (status = ${ACTIVE} and (deliveredKey_ID is null or deliveredKey_ID <> serviceKey_ID))
      or (status <> ${ACTIVE} and deliveredKey_ID is not null))`
    .orderBy('modifiedAt')
    .limit(BATCH)
}

async function tick() {
  if (ticking) return void (again = true)
  ticking = true
  try {
    do {
      again = false
      const t = now()
      const due = await cds.tx(async () => await dueRows(t))
      const work: Promise<void>[] = []
      for (const { ID } of due) {
        if (!ID) continue
        const taken: unknown = await cds.tx(() =>
          UPDATE(Registrations)
            .set({ deliveryLeaseOwner: OWNER, deliveryLeaseUntil: inMs(settings().leaseMs * 20) })
            .where`ID = ${ID} and (deliveryLeaseUntil is null or deliveryLeaseUntil < ${t})`
        )
        if (!taken) continue
        const w = deliver(ID).finally(() => running.delete(w))
        running.add(w)
        work.push(w)
      }
      await Promise.all(work)
      if (due.length === BATCH) again = true
    } while (again && !stopped)
  } catch (e) {
    LOG.error('Looking for due deliveries failed; trying again', e instanceof Error ? e.message : String(e))
  } finally {
    ticking = false
    if (!stopped) {
      clearTimeout(timer)
      timer = setTimeout(() => {
        enterAppContext()
        void tick()
      }, settings().reconcilePollMs).unref()
    }
  }
}

/** Brings one registration's destination in line: written with its key, or deleted. */
async function deliver(ID: string) {
  const reg = await cds.tx(async () => await SELECT.one.from(Registrations, ID))
  if (!reg || reg.deliveryLeaseOwner !== OWNER) return
  const name = reg.tenant ?? ''
  try {
    let target: DestinationTarget | undefined
    try {
      target = await cds.tx(() => targetOf(reg))
    } catch (e) {
      // a registration that ended before anything was written (no Destination service registered yet): nothing to delete
      if (!(e instanceof DeliveryProblem && reg.status !== ACTIVE && !reg.deliveredKey_ID)) throw e
    }
    let holds: string | null = null
    if (reg.status === ACTIVE && target) {
      const keyId = reg.serviceKey_ID
      const key = keyId ? await cds.tx(async () => await SELECT.one.from(ServiceKeys, keyId)) : undefined
      if (!isStored(key) || key.state_code !== LifecycleStateCode.Ready || !key.smId)
        throw new DeliveryProblem(`Key "${key?.name ?? reg.serviceKey_ID}" is ${key?.state_code ?? 'gone'}, not Ready`)
      const smId = key.smId
      const instanceId = key.instance_ID
      const inst = instanceId ? await cds.tx(async () => await SELECT.one.from(ServiceInstances, instanceId)) : undefined
      if (!isStored(inst)) throw new DeliveryProblem(`The instance of key "${key.name}" is gone`)
      const binding = await cds.tx(async () => (await platformFor(inst)).getBinding(smId))
      if (!binding) throw new DeliveryProblem(`Key "${key.name}" no longer exists in Service Manager`)
      const { destination, certificate } = destinationFor(name, key, binding.credentials ?? {})
      // the key's credentials leave for the destination: one audit record per write, before it (fail closed:
      // while the audit log cannot take it, the delivery waits and is tried again)
      await writeAuditRecord('SensitiveDataRead', {
        data_subject: { type: 'ProvisioningService.ServiceKeys', id: { ID: key.ID }, role: 'ServiceKey' },
        object: { type: 'ProvisioningService.ServiceKeys', id: { ID: key.ID, name: key.name, smId: key.smId } },
        attributes: [{ name: 'credentials' }],
        channel: `destination ${name} (registration ${ID})`
      })
      if (certificate) await putCertificate(target, certificate)
      await putDestination(target, destination)
      holds = key.ID
    } else if (target) {
      await remove(target, 'Destinations', name)
      await remove(target, 'Certificates', certificateName(name))
    }
    await cds.tx(async () => {
      // the registration may have changed while we wrote (a hand-over, a delete): then it stays due
      const current = await SELECT.one.from(Registrations, ID)
      if (!current) throw new DeliveryProblem('The registration is gone')
      const inLine = holds ? current.status === ACTIVE && current.serviceKey_ID === holds : current.status !== ACTIVE
      await UPDATE(Registrations, ID).with({
        deliveredKey_ID: holds,
        delivery: inLine ? (holds ? 'delivered' : 'removed') : 'pending',
        deliveredAt: now(),
        deliveryError: null,
        deliveryAttempts: 0,
        deliverAt: null,
        deliveryLeaseOwner: null,
        deliveryLeaseUntil: null
      })
      if (reg.deliveredKey_ID && reg.deliveredKey_ID !== holds) await releaseRetirement(reg.deliveredKey_ID)
    })
    LOG.info(`Destination ${name} ${holds ? 'holds key ' + holds : 'deleted'}`)
  } catch (e) {
    const attempts = (reg.deliveryAttempts ?? 0) + 1
    const message = e instanceof DeliveryProblem || e instanceof DestinationServiceError ? e.message : `Delivery failed: ${e instanceof Error ? e.message : String(e)}`
    const s = settings()
    const delay = Math.min(s.retryMaxMs, s.pollInitialMs * 2 ** Math.min(attempts, 12)) * (0.8 + Math.random() * 0.4)
    LOG.warn(`Destination ${name} (registration ${ID}), attempt ${attempts}:`, message)
    await cds.tx(() =>
      UPDATE(Registrations)
        .set({ delivery: 'failed', deliveryError: message.slice(0, 2000), deliveryAttempts: attempts, deliverAt: inMs(Math.round(delay)), deliveryLeaseOwner: null, deliveryLeaseUntil: null })
        .where({ ID, deliveryLeaseOwner: OWNER })
    )
  }
}

/**
 * The retirement time of an old key whose destinations do not hold its successor yet: held until they do.
 * A time rather than none, so that the key still counts as replaced (no policy rotates it again meanwhile).
 */
export const HELD_FOR_DELIVERY = '9999-12-31T00:00:00.000Z'
const HOUR_MS = 3_600_000

/**
 * A key no destination holds any longer in place of its successor: if a rotation's hand-over held its
 * retirement (deliverAfterHandOver), its overlap starts now.
 */
async function releaseRetirement(keyId: string) {
  const still = await SELECT.one.from(Registrations).columns('ID').where({ consumerType: CONSUMER_TYPE, deliveredKey_ID: keyId, status: ACTIVE, serviceKey_ID: { '!=': keyId } })
  if (still) return
  const old = await SELECT.one.from(ServiceKeys, keyId)
  if (!old || old.desired !== DesiredState.present || !old.retireAt || new Date(old.retireAt).toISOString() !== HELD_FOR_DELIVERY) return
  const overlapMs = old.rotationOverlapHours != null ? old.rotationOverlapHours * HOUR_MS : settings().rotationOverlapMs
  // the overlap runs on the app's time, as the rotation's own (rotation.ts)
  const retireAt = new Date(clock.now() + overlapMs).toISOString()
  await UPDATE(ServiceKeys).set({ retireAt, reconcileAt: retireAt }).where({ ID: keyId, retireAt: HELD_FOR_DELIVERY })
  Orchestrator.wakeAfterCommit()
}

/**
 * Rotation hand-over (in its transaction, after the registrations moved to the successor and the old key's
 * retirement was scheduled): destinations that hold the old key are written with the successor, and the old key
 * is not retired before they are: its retirement is held (HELD_FOR_DELIVERY) and its overlap starts once every
 * destination holds the successor.
 */
export async function deliverAfterHandOver(successor: { ID: string }, old: { ID: string }) {
  const moved: unknown = await UPDATE(Registrations)
    .set({ delivery: 'pending', deliverAt: null })
    .where({ consumerType: CONSUMER_TYPE, serviceKey_ID: successor.ID, status: ACTIVE, deliveredKey_ID: old.ID })
  if (!moved) return
  await UPDATE(ServiceKeys).set({ retireAt: HELD_FOR_DELIVERY, reconcileAt: null }).where({ ID: old.ID, desired: DesiredState.present })
  wakeAfterCommit()
}

// ---- requests: registrations and targets ---------------------------------------------------------------

/** The checks and reactions of the OData service for destination delivery (srv/provisioning-service.ts). */
export function serveDestinations(srv: cds.ApplicationService) {
  srv.before('CREATE', RegistrationView, async req => {
    const d = req.data
    if (d.consumerType !== CONSUMER_TYPE) {
      d.destinationTarget_ID = null
      return
    }
    // the key and the name are checked with every registration (deliveryProblem, through registrationProblem)
    const key = d.serviceKey_ID ? await SELECT.one.from(ServiceKeys, d.serviceKey_ID) : undefined
    if (!key) return // unknown: refused by the registration's own checks
    let target: { ID?: string; subaccount_ID?: string | null } | null
    if (d.destinationTarget_ID) {
      target = await SELECT.one.from(DestinationTargets, d.destinationTarget_ID)
      const sub = target?.subaccount_ID ? await SELECT.one.from(Subaccounts, target.subaccount_ID).columns('subaccountId') : undefined
      const scope = subaccountScope(req.user)
      if (!target || (scope !== 'all' && !scope.includes(sub?.subaccountId ?? ''))) return req.reject(422, 'DESTINATION_TARGET_UNKNOWN', 'destinationTarget_ID', [d.destinationTarget_ID])
    } else {
      target = key.subaccount_ID ? await SELECT.one.from(DestinationTargets).where({ subaccount_ID: key.subaccount_ID }) : null
      if (!target) {
        const sub = key.subaccount_ID ? await SELECT.one.from(Subaccounts, key.subaccount_ID).columns('displayName') : undefined
        return req.reject(422, 'DESTINATION_TARGET_MISSING', 'destinationTarget_ID', [sub?.displayName ?? key.subaccount_ID])
      }
    }
    d.destinationTarget_ID = target.ID
    d.delivery = 'pending'
  })
  srv.after(['CREATE', 'DELETE'], RegistrationView, () => wakeAfterCommit())

  // ---- the Destination service keys: the secret is written, never read back -------------------------------
  const checkUrls = (req: Request<TargetView>) => {
    for (const field of ['uri', 'tokenUrl'] as const) {
      const v = req.data[field]
      if (v === undefined) continue
      let ok: boolean
      try {
        ok = ['http:', 'https:'].includes(new URL(String(v)).protocol)
      } catch {
        ok = false
      }
      if (!ok) req.error(400, 'DESTINATION_TARGET_URL_INVALID', field, [field])
    }
  }
  // the secret is a virtual element of the projection (never read back): taken from the request before CAP's
  // generic input handling drops it, and written to the table after the row
  const secrets = new WeakMap<object, string>()
  srv.prepend(() =>
    srv.before(['CREATE', 'UPDATE'], TargetView, req => {
      const { clientSecret: secret, destination } = req.data
      // a key given here needs its secret; a key in a BTP destination needs none
      if ((req.event === 'CREATE' && !destination) || secret !== undefined) {
        if (typeof secret !== 'string' || !secret) return void req.error(400, 'DESTINATION_TARGET_SECRET_REQUIRED', 'clientSecret')
        secrets.set(req, secret)
      }
    })
  )
  srv.before('CREATE', TargetView, async req => {
    checkUrls(req)
    const d = req.data
    if (d.destination !== undefined && d.destination !== null && !(typeof d.destination === 'string' && BTP_DESTINATION.test(d.destination)))
      req.error(400, 'DESTINATION_NAME_INVALID', 'destination', [String(d.destination)])
    if (!d.destination) for (const field of ['uri', 'tokenUrl', 'clientId'] as const) if (!d[field]) req.error(400, 'DESTINATION_TARGET_INCOMPLETE', field, [field])
    if (d.subaccount_ID && (await SELECT.one.from(DestinationTargets).columns('ID').where({ subaccount_ID: d.subaccount_ID }))) {
      const sub = await SELECT.one.from(Subaccounts, d.subaccount_ID).columns('displayName')
      req.error(409, 'DESTINATION_TARGET_EXISTS', 'subaccount_ID', [sub?.displayName ?? d.subaccount_ID])
    }
  })
  srv.before('UPDATE', TargetView, req => {
    checkUrls(req)
    const d = req.data
    if (d.subaccount_ID !== undefined) delete d.subaccount_ID // a key belongs to its subaccount: register another one instead
  })
  srv.on(['CREATE', 'UPDATE'], TargetView, async (req, next) => {
    const result = await next()
    const ID = idOf(req)
    const secret = secrets.get(req)
    if (secret && ID) await UPDATE(DestinationTargets, ID).with({ clientSecret: secret })
    // a changed key: deliveries that failed with the old one go again now
    if (req.event === 'UPDATE') {
      await UPDATE(Registrations).set({ deliverAt: null }).where({ destinationTarget_ID: ID, delivery: 'failed' })
      wakeAfterCommit()
    }
    return result
  })
  srv.after('READ', TargetView, (rows: TargetView[] | TargetView | undefined) => {
    for (const row of Array.isArray(rows) ? rows : [rows]) if (row && 'clientSecret' in row) row.clientSecret = null
  })
  srv.before('DELETE', TargetView, async req => {
    const ID = idOf(req)
    // a count, outside the generated type
    const held = (await SELECT.one`count(*) as count`.from(Registrations).where`destinationTarget_ID = ${ID} and (status = ${ACTIVE} or deliveredKey_ID is not null)`) as { count: number }
    if (held.count > 0) {
      const target = ID ? await SELECT.one.from(DestinationTargets, ID) : undefined
      const sub = target?.subaccount_ID ? await SELECT.one.from(Subaccounts, target.subaccount_ID).columns('displayName') : undefined
      return req.reject(409, 'DESTINATION_TARGET_IN_USE', 'subaccount_ID', [sub?.displayName ?? ID, held.count])
    }
  })

  onServed(async () => {
    // locally (Service Manager emulator) the Destination service emulator runs embedded too
    if (smConfig().kind === 'emulator') await embeddedDestinationEmulator()
    wakeDelivery()
  })
  onShutdown(async () => {
    stopped = true
    clearTimeout(timer)
    await Promise.allSettled([...running])
  })
}

// ---- the embedded emulator (development, tests) ---------------------------------------------------------

/** What this module uses of the Destination service emulator (loaded on demand, never in the production build). */
export interface EmbeddedDestinationEmulator {
  url: string
  keys: { subaccountId: string; clientid: string; clientsecret: string; uri: string; url: string }[]
  close(): Promise<void>
}
const EMULATOR_MODULE = '../../emulator/destination'
let emulator: Promise<EmbeddedDestinationEmulator> | undefined

/**
 * The embedded Destination service emulator, started on first use and stopped with the server; it trusts the
 * Service Manager emulator's CA for the mTLS tokens of X.509 destinations. Tests name its full type:
 * `const emu: DestinationEmulator = await embeddedDestinationEmulator()`.
 */
export function embeddedDestinationEmulator<E extends EmbeddedDestinationEmulator = EmbeddedDestinationEmulator>(): Promise<E> {
  emulator ??= (async () => {
    // loaded by path, so untyped here: what this module uses of it
    const { startDestinationEmulator } = (await import(EMULATOR_MODULE)) as { startDestinationEmulator: (o: Json) => Promise<EmbeddedDestinationEmulator> }
    const trustedCa = smConfig().kind === 'emulator' ? (await embeddedEmulator()).caPem : undefined
    const emu = await startDestinationEmulator({ trustedCa })
    LOG.info(`Destination service emulator listening on ${emu.url}`)
    onShutdown(() => emu.close())
    return emu
  })()
  return emulator as Promise<E> // E: the emulator's full type, named by the test that asks
}
