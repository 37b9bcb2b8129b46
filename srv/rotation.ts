import cds from '@sap/cds'
import type { Certificate, ServiceKey, Template } from '#cds-models/btp/provisioning'
import { Certificates, DesiredState, LifecycleStateCode, Registration, Registrations, ServiceInstances, ServiceKeys, ServiceOfferings, VerificationStateCode } from '#cds-models/btp/provisioning'
import { settings } from './lib/config'
import * as clock from './lib/clock'
import { keyScope } from './lib/key-scope'
import { parseJsonObject, shown } from './lib/naming'
import { x509BindingParameters } from './lib/x509'
import { afterCommit } from './lifecycle-events'
import { announce, type EventName } from './events'
import { requestCreate, requestKeyDeletion, type Orchestrator } from './orchestrator'
import type { TokenCheck } from './verification'
import { deliverAfterHandOver } from './destinations/delivery'

/**
 * Rotation: a key is replaced by a successor like it, which takes over the key's registrations once it is
 * verified; the old key is deleted after the overlap. Started by a user (`rotate`, reason manual) or by the
 * key's rotation policy (the expiry scan, reason policy). Starting one is a change of desired state (the
 * successor's row, the old key's `rotatedTo`); the reconciler creates and verifies the successor, and in the
 * transaction that settles it either hands over (`handOver`) or stops the rotation (`rotationFailed`).
 *
 * Keys with their owner's certificate are verified by hand (the private key stays with its owner): they rotate
 * only onto a newer certificate of the same subject, and hand over after a manual `verify` of the successor.
 */

export type RotationReason = NonNullable<ServiceKey['rotationReason']>

const LOG = cds.log('rotation')
const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000

// ---- the policy ------------------------------------------------------------------------------------

/** The fields of a rotation policy (db/schema.cds RotationPolicy) and the values each takes. */
export const POLICY_LIMITS = {
  rotateEveryDays: [1, 3650],
  rotateBeforeExpiryDays: [1, 3650],
  rotationOverlapHours: [0, 8760]
} as const
type PolicyField = keyof typeof POLICY_LIMITS
export const POLICY_FIELDS = Object.keys(POLICY_LIMITS) as PolicyField[] // the keys of the object above
/** A rotation policy as stored (db/schema.cds RotationPolicy). */
type Policy = Pick<Template, PolicyField>

/** The first policy field of `data` with a value outside its range: the message arguments of ROTATION_POLICY_INVALID. */
export function policyProblem(data: Partial<Record<PolicyField, unknown>>): { target: string; args: unknown[] } | undefined {
  for (const field of POLICY_FIELDS) {
    if (!(field in data) || data[field] === null) continue
    const value = data[field]
    const [min, max] = POLICY_LIMITS[field]
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
      return { target: field, args: [field, min, max, shown(typeof value === 'string' ? value : JSON.stringify(value))] }
  }
  return undefined
}

/** A template's policy, for a key made from it (fields the key's request gives itself stay). */
export function policyOf(template: Policy | null | undefined): Policy {
  const policy: Policy = {}
  for (const field of POLICY_FIELDS) policy[field] = template?.[field] ?? null
  return policy
}

/** Why a key is due for rotation by its policy at time `t` (its certificate, if it has one of its own). */
export function dueBecause(key: ServiceKey, certificate: Certificate | undefined, t: number): 'age' | 'expiry' | undefined {
  // a successor's age counts from its rotation (by the app's clock), any other key's from its creation
  const born = key.rotatedFrom_ID && key.rotatedAt ? key.rotatedAt : key.createdAt
  if (key.rotateEveryDays != null && born && t - Date.parse(born) >= key.rotateEveryDays * DAY_MS) return 'age'
  const before = key.rotateBeforeExpiryDays
  if (before != null) {
    const ends = [key.expiresAt, certificate?.notAfter].flatMap(v => (v ? [Date.parse(v)] : []))
    if (ends.some(end => end - t <= before * DAY_MS)) return 'expiry'
  }
  return undefined
}

// ---- starting a rotation -----------------------------------------------------------------------------

/** The successor's name: the old name shortened, with a UTC time stamp (32 characters at most). */
export function rotatedName(name: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(2, 14) // YYMMDDhhmmss
  return `${name.replace(/-\d{12}$/, '').slice(0, 32 - 13)}-${stamp}`
}

/**
 * The successor's name, not held by another key of the instance that still exists (in SM, names are unique
 * per instance): rotating a successor within the same second would otherwise repeat its name.
 */
async function freeRotatedName(old: ServiceKey): Promise<string> {
  const taken = new Set((await SELECT.from(ServiceKeys).columns('name').where({ instance_ID: old.instance_ID, state_code: { '!=': LifecycleStateCode.Deleted } })).map(k => k.name))
  const start = clock.now()
  for (let s = 0; ; s++) {
    const name = rotatedName(old.name ?? '', new Date(start + s * 1000))
    if (!taken.has(name)) return name
  }
}

/** A successor of the key that is wanted and not failed: while there is one, the key is not rotated again. */
export async function liveSuccessor(old: ServiceKey): Promise<ServiceKey | undefined> {
  const live = [LifecycleStateCode.Creating, LifecycleStateCode.Ready]
  return (await SELECT.one.from(ServiceKeys).where({ rotatedFrom_ID: old.ID, desired: DesiredState.present, state_code: { in: live } })) ?? undefined
}

/**
 * Starts a rotation of `old` (a row as read) in the caller's transaction: the successor's row, like the old
 * key, and its create step; the old key's `rotatedTo` set by compare-and-set on the value read, so that two
 * rotations started at the same time (a user and the scan) yield one successor. With `certificate`, the
 * successor is bound with that certificate (a newer one of an own-certificate key).
 */
export async function startRotation(
  old: ServiceKey,
  reason: RotationReason,
  opts: { certificate?: Certificate } = {}
): Promise<{ successor: ServiceKey } | { conflict: ServiceKey | undefined }> {
  if (!old.ID || !old.instance_ID) throw new Error(`Key ${old.name} is not a stored key of an instance`)
  const live = await liveSuccessor(old)
  if (live) return { conflict: live }
  const ID = cds.utils.uuid()
  const at = clock.nowIso()
  const claimed: unknown = await UPDATE(ServiceKeys)
    .set({ rotatedTo_ID: ID, rotationReason: reason, rotationError: null })
    .where({ ID: old.ID, desired: DesiredState.present, retireAt: null, rotatedTo_ID: old.rotatedTo_ID ?? null })
  if (!claimed) {
    const now = await SELECT.one.from(ServiceKeys, old.ID)
    return { conflict: now?.rotatedTo_ID ? ((await SELECT.one.from(ServiceKeys, now.rotatedTo_ID)) ?? undefined) : undefined }
  }
  const inst = await SELECT.one.from(ServiceInstances, old.instance_ID)
  if (!inst) throw new Error(`The instance of key ${old.name} is gone`) // a key's instance is mandatory
  let certificate_ID = old.certificate_ID ?? null
  let parameters = old.parameters ?? null
  if (opts.certificate && opts.certificate.ID !== old.certificate_ID) {
    const offering = inst.offering_ID ? await SELECT.one.from(ServiceOfferings, inst.offering_ID) : undefined
    certificate_ID = opts.certificate.ID ?? null
    parameters = x509BindingParameters({ offeringName: offering?.name ?? '', certificatePem: opts.certificate.pem ?? undefined, parameters: parseJsonObject(old.parameters) })
  }
  const successor: ServiceKey = {
    ID,
    instance_ID: old.instance_ID,
    ...(await keyScope(inst)),
    name: await freeRotatedName(old),
    credentialType: old.credentialType,
    certificate_ID,
    keyLength: old.keyLength,
    validity: old.validity,
    validityType: old.validityType,
    parameters,
    purpose: old.purpose,
    ...policyOf(old),
    rotatedFrom_ID: old.ID,
    rotatedAt: at,
    rotationReason: reason,
    state_code: LifecycleStateCode.Creating
  }
  await INSERT.into(ServiceKeys).entries(successor)
  await requestCreate('ServiceKeys', ID, { serviceKey_ID: ID, instance_ID: old.instance_ID, subaccount_ID: inst.subaccount_ID })
  LOG.info(`Rotating key ${old.name} (${reason}): successor ${successor.name}`)
  return { successor }
}

// ---- the successor settles ---------------------------------------------------------------------------

/**
 * Why a rotation's successor may not take over (its token check failed), for its lastError; undefined when it
 * may, or when it waits for a manual verify (own certificate), or when it is no successor.
 */
export function rotationFailure(successor: ServiceKey, check: TokenCheck | undefined): string | undefined {
  if (!successor.rotatedFrom_ID || successor.certificate_ID || check?.ok) return undefined
  return `The rotation stopped: the new key does not work (${check?.message ?? 'not verified'}); the old key keeps its registrations.`
}

/**
 * The reconciler settled a rotation's successor (in its transaction): a working successor takes over, a
 * failing one stops the rotation; one with its owner's certificate waits for a manual verify.
 */
export async function successorSettled(successor: ServiceKey, failure: string | undefined, tx?: unknown) {
  if (!successor.rotatedFrom_ID) return
  if (failure) return rotationFailed(successor, failure, tx)
  if (successor.certificate_ID) return // hands over after a manual verify (verifiedByHand)
  await handOver(successor, tx)
}

/** A manual verify of a key worked (in the request's transaction): a successor that waited for it takes over. */
export async function verifiedByHand(key: ServiceKey, tx?: unknown) {
  if (!key.rotatedFrom_ID || key.desired !== DesiredState.present || key.state_code !== LifecycleStateCode.Ready) return
  await handOver({ ...key, verification_code: VerificationStateCode.ok }, tx)
}

/**
 * The hand-over, in the caller's transaction: the successor takes the old key's registrations (the ones
 * waiting for a verify too: the successor is verified), and the old key is retired after the overlap (its
 * policy's, or the service's). Idempotent: only the first call for an old key changes anything. Whatever else
 * must follow a key's successor (e.g. deliveries to consumers) is added here. Answers whether it handed over.
 */
export async function handOver(successor: ServiceKey, tx?: unknown): Promise<boolean> {
  if (!successor.rotatedFrom_ID || !successor.ID) return false
  const old = await SELECT.one.from(ServiceKeys, successor.rotatedFrom_ID)
  if (!old?.ID || old.desired !== DesiredState.present) return false
  if (old.rotatedTo_ID && old.rotatedTo_ID !== successor.ID) return false // a later rotation of the old key took its place
  const overlapMs = old.rotationOverlapHours != null ? old.rotationOverlapHours * HOUR_MS : settings().rotationOverlapMs
  const retireAt = new Date(clock.now() + overlapMs).toISOString()
  const changed: unknown = await UPDATE(ServiceKeys)
    // reconcileAt: when the reconciler looks at the old key again (its schedule goes by the app's clock too)
    .set({ retireAt, reconcileAt: retireAt, rotatedTo_ID: successor.ID, rotatedAt: clock.nowIso(), rotationError: null })
    .where({ ID: old.ID, desired: DesiredState.present, retireAt: null })
  if (!changed) return false
  const { Active, Pending } = Registration.status
  await UPDATE(Registrations).set({ serviceKey_ID: successor.ID, status: Active }).where({ serviceKey_ID: old.ID, status: { in: [Active, Pending] } })
  // destinations holding the old key get the successor first; the old key is retired only after that
  await deliverAfterHandOver({ ID: successor.ID }, { ID: old.ID })
  const inst = old.instance_ID ? await SELECT.one.from(ServiceInstances, old.instance_ID).columns('subaccount_ID') : undefined
  const reason = successor.rotationReason ?? old.rotationReason ?? 'manual'
  emitLater(tx, 'KeyRotated', {
    serviceKey: successor.ID,
    name: successor.name,
    instance: successor.instance_ID,
    subaccount: inst?.subaccount_ID ?? null,
    rotatedFrom: old.ID,
    rotatedFromName: old.name,
    reason,
    retireAt
  })
  wakeAfterCommit(tx)
  return true
}

/**
 * The successor does not work (in the reconciler's transaction that settles it): the rotation stops. The
 * successor is deleted (desired absent), the old key keeps its registrations and records why; a policy tries
 * again at a later scan. KeyRotationFailed after commit.
 */
export async function rotationFailed(successor: ServiceKey, message: string, tx?: unknown) {
  if (successor.ID) await requestKeyDeletion(successor.ID)
  const old = successor.rotatedFrom_ID ? await SELECT.one.from(ServiceKeys, successor.rotatedFrom_ID) : undefined
  if (old) await UPDATE(ServiceKeys).set({ rotationError: message.slice(0, 2000), rotatedTo_ID: null }).where({ ID: old.ID, rotatedTo_ID: successor.ID })
  const inst = successor.instance_ID ? await SELECT.one.from(ServiceInstances, successor.instance_ID).columns('subaccount_ID') : undefined
  LOG.warn(`The rotation of key ${old?.name ?? successor.rotatedFrom_ID} stopped:`, message)
  emitLater(tx, 'KeyRotationFailed', {
    serviceKey: successor.rotatedFrom_ID,
    name: old?.name ?? null,
    instance: successor.instance_ID,
    subaccount: inst?.subaccount_ID ?? null,
    successor: successor.ID,
    successorName: successor.name,
    reason: successor.rotationReason ?? 'manual',
    message
  })
}

/**
 * A rotation's successor ended Failed (in the reconciler's transaction): unless its verification already stopped
 * the rotation (rotationFailed), it was not created, and the rotation stops the same way.
 */
export async function successorFailed(successor: ServiceKey, message: string | null | undefined, tx?: unknown) {
  const row = successor.ID ? await SELECT.one.from(ServiceKeys, successor.ID).columns('desired') : undefined
  if (row?.desired !== DesiredState.present) return
  await rotationFailed(successor, `The rotation stopped: the new key could not be created (${message ?? 'no reason given'}); the old key keeps its registrations.`, tx)
}

// ---- the scan ----------------------------------------------------------------------------------------

/**
 * Part of the expiry scan, at the app's time `at`: starts the rotations that keys' policies make due, and
 * asks for a newer certificate where an own-certificate key is due but none was uploaded
 * (CertificateRenewalNeeded, once until it changes). Also looks at once at retirements due by the app's time
 * (tests move it ahead of the wall clock). Answers how many rotations it started.
 */
export async function scanRotations(at: Date = clock.nowDate()): Promise<number> {
  const wall = new Date().toISOString()
  const woken: unknown = await UPDATE(ServiceKeys).set({ reconcileAt: wall }).where`desired = ${DesiredState.present} and retireAt <= ${at.toISOString()} and reconcileAt > ${wall}`
  if (woken) wakeAfterCommit(undefined)

  let started = 0
  // the keys with a policy, a page at a time (a scan over many keys holds a page, not the table)
  for (let after = ''; ; ) {
    const keys = await SELECT.from(ServiceKeys)
      .where`ID > ${after} and desired = ${DesiredState.present} and state_code = ${LifecycleStateCode.Ready} and retireAt is null and (automatic is null or automatic = false) and (rotateEveryDays is not null or rotateBeforeExpiryDays is not null)`
      .orderBy('ID')
      .limit(ROTATION_PAGE)
    started += await rotateDue(keys, at)
    if (keys.length < ROTATION_PAGE) break
    after = keys[keys.length - 1].ID ?? ''
  }
  if (started) LOG.info(`Rotation policies: ${started} rotations started`)
  return started
}

/** How many keys with a rotation policy the scan reads at a time. */
const ROTATION_PAGE = 500

/** Starts the rotations due among `keys` (one page of the scan); answers how many it started. */
async function rotateDue(keys: ServiceKey[], at: Date): Promise<number> {
  const t = at.getTime()
  let started = 0
  for (const key of keys) {
    const certificate = key.certificate_ID ? ((await SELECT.one.from(Certificates, key.certificate_ID)) ?? undefined) : undefined
    if (!dueBecause(key, certificate, t)) continue
    if (await liveSuccessor(key)) continue
    if (key.rotatedFrom_ID) {
      // a successor still waiting to take over is not rotated itself
      const predecessor = await SELECT.one.from(ServiceKeys, key.rotatedFrom_ID).columns('desired', 'retireAt')
      if (predecessor?.desired === DesiredState.present && !predecessor.retireAt) continue
    }
    let renewed: Certificate | undefined
    if (certificate) {
      renewed = await renewedCertificate(certificate, at)
      if (!renewed) {
        await renewalNeeded(key, certificate, t)
        continue
      }
    }
    const result = await startRotation(key, 'policy', renewed ? { certificate: renewed } : {})
    if ('successor' in result) started++
  }
  return started
}

/** The newest uploaded certificate that renews `certificate`: same subject, valid longer, not expired, for client authentication. */
export async function renewedCertificate(certificate: Certificate, at: Date = clock.nowDate()): Promise<Certificate | undefined> {
  return (
    (await SELECT.one
      .from(Certificates)
      .where`subject = ${certificate.subject} and ID <> ${certificate.ID} and notAfter > ${certificate.notAfter} and notAfter > ${at.toISOString()} and clientAuth = true`
      .orderBy('notAfter desc')) ?? undefined
  )
}

/** An own-certificate key due for rotation without a newer certificate: recorded on the key, announced once. */
async function renewalNeeded(key: ServiceKey, certificate: Certificate, t: number) {
  const message = `Waiting for a newer certificate with the subject "${certificate.subject}": once it is uploaded, the key rotates onto it and hands over after a manual verify of the new key.`.slice(0, 2000)
  if (key.rotationError === message) return
  await UPDATE(ServiceKeys, key.ID).with({ rotationError: message })
  const inst = key.instance_ID ? await SELECT.one.from(ServiceInstances, key.instance_ID).columns('subaccount_ID') : undefined
  emitLater(undefined, 'CertificateRenewalNeeded', {
    serviceKey: key.ID,
    name: key.name,
    instance: key.instance_ID,
    subaccount: inst?.subaccount_ID ?? null,
    certificate: certificate.ID,
    subject: certificate.subject,
    notAfter: certificate.notAfter,
    daysLeft: Math.floor((Date.parse(certificate.notAfter ?? '') - t) / DAY_MS)
  })
}

// ---- helpers -----------------------------------------------------------------------------------------

/** Emits one event in a transaction of its own, once the one that decided it has committed. */
function emitLater(tx: unknown, event: EventName, data: Record<string, unknown>) {
  afterCommit(tx, async () => {
    await cds.tx({ user: new cds.User.Privileged() }, () => announce(event, data))
  })
}

/** The reconciler of this process looks for due work once the transaction has committed. */
function wakeAfterCommit(tx: unknown) {
  afterCommit(tx, async () => {
    const orchestrator = (await cds.connect.to('orchestrator')) as Orchestrator // the service srv/orchestrator.ts implements
    orchestrator.wake()
  })
}
