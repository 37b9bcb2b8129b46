import cds from '@sap/cds'
import type { Request } from '@sap/cds'
import type { ServiceKey } from '#cds-models/btp/provisioning'
import { Certificates, ExpiryStateCode, LifecycleStateCode, ServiceInstances, ServiceKeys } from '#cds-models/btp/provisioning'
import type { Certificate as CertificateView } from '#cds-models/ProvisioningService'
import { CertificateInputError, certificateStatus, parseCertificatePem } from './lib/certificates'
import { settings } from './lib/config'
import { platformFor } from './cloud-foundry/platform'
import { isCloudFoundry } from './cloud-foundry/environments'
import { announce } from './events'
import { auditOrRefuse } from './lib/audit'
import { nowDate } from './lib/clock'
import { scanRotations } from './rotation'

type Json = Record<string, unknown>

const LOG = cds.log('key-health')

// ---- certificates ----------------------------------------------------------------------------------

/** Parses an uploaded PEM into the row's facts; only the public certificate chain is kept. */
export async function prepareCertificate(req: Request<CertificateView>) {
  const d = req.data
  let facts
  try {
    facts = parseCertificatePem(typeof d.pem === 'string' ? d.pem : '')
  } catch (e) {
    if (e instanceof CertificateInputError) {
      d.pem = null // never keep what was pasted, e.g. a private key
      return req.reject({ status: 400, message: e.code, target: 'pem', args: e.args })
    }
    throw e
  }
  const duplicate = await SELECT.one.from(Certificates).where({ fingerprint: facts.fingerprintSha256 })
  if (duplicate) return req.reject({ status: 409, message: 'CERT_DUPLICATE', target: 'pem', args: [duplicate.name ?? duplicate.subject] })
  const cn = /(?:^|,\s*)CN=([^,]+)/.exec(facts.subject)?.[1]
  Object.assign(d, {
    name: d.name || cn || facts.subject,
    pem: facts.pem,
    subject: facts.subject,
    issuer: facts.issuer,
    serialNumber: facts.serialNumber,
    notBefore: facts.notBefore.toISOString(),
    notAfter: facts.notAfter.toISOString(),
    fingerprint: facts.fingerprintSha256,
    keyAlgorithm: facts.keyAlgorithm,
    keySize: facts.keySize ?? null,
    clientAuth: facts.clientAuth,
    expiry_code: certificateStatus(facts.notAfter, { warnDays: settings().expiryWarnDays }).status
  } satisfies CertificateView)
}

/** Certificates are facts about a file: only the display name may change. */
export function guardCertificateUpdate(req: Request<CertificateView>) {
  const changed = Object.keys(req.data).filter(k => !['ID', 'name', 'modifiedAt', 'modifiedBy'].includes(k))
  if (changed.length) req.reject({ status: 405, message: 'CERT_IMMUTABLE' })
}

export async function guardCertificateDelete(req: Request<CertificateView>) {
  const p: unknown = req.params.at(-1) // the key: `{ ID }` or the ID itself
  const ID = p && typeof p === 'object' && 'ID' in p ? p.ID : p
  // a count, outside the generated type
  const { count } = (await SELECT.one`count(*) as count`.from(ServiceKeys).where({ certificate_ID: ID, state_code: { '!=': LifecycleStateCode.Deleted } })) as { count: number }
  if (count > 0) req.reject({ status: 409, message: 'CERT_IN_USE', args: [count] })
}

export function addDaysLeft(rows: CertificateView[] | CertificateView | undefined) {
  const list = Array.isArray(rows) ? rows : rows ? [rows] : []
  const now = Date.now()
  for (const row of list) if (row.notAfter) row.daysLeft = Math.floor((Date.parse(row.notAfter) - now) / 86400000)
}

// ---- credentials on demand -------------------------------------------------------------------------

/**
 * Reads a key's credentials live from where its instance lives (platformFor): Service Manager, or for an
 * instance in a Cloud Foundry space the CF API (`/v3/service_credential_bindings/{guid}/details`); nothing of
 * them is stored.
 */
export async function liveCredentials(key: ServiceKey, req: Request): Promise<Json> {
  if (key.state_code !== LifecycleStateCode.Ready || !key.smId) return req.reject({ status: 422, message: 'KEY_NOT_READY', args: [key.name, key.state_code] })
  const inst = key.instance_ID ? await SELECT.one.from(ServiceInstances, key.instance_ID) : undefined
  if (!inst?.ID) throw new Error(`The instance of key ${key.name} is gone`) // a key's instance is mandatory
  const platform = await platformFor({ ...inst, ID: inst.ID })
  const binding = await platform.getBinding(key.smId)
  if (!binding && isCloudFoundry(inst)) return req.reject({ status: 404, message: 'KEY_NOT_FOUND_IN_CF', args: [key.name, inst.space] })
  if (!binding) return req.reject({ status: 404, message: 'KEY_NOT_FOUND_IN_SM', args: [key.name] })
  return binding.credentials ?? {}
}

/**
 * One audit record per read of a key's credentials: who, which key, when (time and user added by the audit
 * log). Written before the credentials leave, and not through the queue: while the audit log cannot take it,
 * the read is refused with 503 AUDIT_LOG_UNAVAILABLE (lib/audit.ts).
 */
export async function auditCredentialRead(key: ServiceKey, how: 'reveal' | 'download', req: Request) {
  await auditOrRefuse(req, 'SensitiveDataRead', {
    data_subject: { type: 'ProvisioningService.ServiceKeys', id: { ID: key.ID }, role: 'ServiceKey' },
    object: { type: 'ProvisioningService.ServiceKeys', id: { ID: key.ID, name: key.name, smId: key.smId } },
    attributes: [{ name: 'credentials' }],
    channel: how
  })
}

// ---- expiry scan -----------------------------------------------------------------------------------

/** How many keys the expiry scan reads at a time. */
const EXPIRY_PAGE = 1000
const DAY_MS = 86_400_000

/**
 * Marks keys and certificates by how close their end of validity is, and announces the ones whose state
 * changed to expiring or expired with KeyExpiring / CertificateExpiring events; then starts the rotations that
 * keys' rotation policies make due (srv/rotation.ts). `now`: the app's clock (srv/lib/clock.ts).
 */
export async function scanExpiry(now = nowDate()): Promise<{ keys: number; certificates: number; rotations: number }> {
  const warnDays = settings().expiryWarnDays
  let certificates = 0

  // only the keys whose mark changes, a page at a time and only the columns needed: a scan over 100k keys
  // holds a page, not the table (the boundaries are certificateStatus's: expired before now, expiring within
  // warnDays whole days)
  const at = now.toISOString()
  const edge = new Date(now.getTime() + (warnDays + 1) * DAY_MS).toISOString()
  const live = { expiresAt: { '!=': null }, state_code: { in: [LifecycleStateCode.Ready, LifecycleStateCode.Creating] } }
  // the column `n` is a count, outside the generated type
  const counted = (await SELECT.one.from(ServiceKeys).columns('count(1) as n').where({ ...live, expiresAt: { '<': edge } })) as { n?: number } | null
  const keys = Number(counted?.n ?? 0)
  for (let after = ''; ; ) {
    const { valid, expiring, expired } = ExpiryStateCode
    const page = await SELECT.from(ServiceKeys)
      .columns('ID', 'name', 'instance_ID', 'subaccount_ID', 'expiresAt', 'expiry_code')
      .where({ ...live, ID: { '>': after } })
      .and`(expiresAt < ${at} and (expiry_code is null or expiry_code != ${expired}))
        or (expiresAt >= ${at} and expiresAt < ${edge} and (expiry_code is null or expiry_code != ${expiring}))
        or (expiresAt >= ${edge} and (expiry_code is null or expiry_code != ${valid}))`
      .orderBy('ID')
      .limit(EXPIRY_PAGE)
    for (const key of page) {
      if (!key.expiresAt) continue // none: the query asks for keys with an end of validity
      const { status, daysLeft } = certificateStatus(new Date(key.expiresAt), { now, warnDays })
      if (status === key.expiry_code) continue
      await UPDATE(ServiceKeys, key.ID).with({ expiry_code: status })
      if (status !== ExpiryStateCode.valid)
        await announce('KeyExpiring', { serviceKey: key.ID, name: key.name, instance: key.instance_ID, subaccount: key.subaccount_ID, expiresAt: key.expiresAt, daysLeft })
    }
    if (page.length < EXPIRY_PAGE) break
    after = page[page.length - 1].ID ?? ''
  }

  const certRows = await SELECT.from(Certificates).where({ notAfter: { '!=': null } })
  for (const cert of certRows) {
    if (!cert.notAfter) continue // none: the query asks for certificates with an end of validity
    const { status, daysLeft } = certificateStatus(new Date(cert.notAfter), { now, warnDays })
    if (status !== ExpiryStateCode.valid) certificates++
    if (status === cert.expiry_code) continue
    await UPDATE(Certificates, cert.ID).with({ expiry_code: status })
    if (status !== ExpiryStateCode.valid)
      await announce('CertificateExpiring', { certificate: cert.ID, name: cert.name, subject: cert.subject, notAfter: cert.notAfter, daysLeft })
  }
  const rotations = await scanRotations(now)
  LOG.info(`Expiry scan: ${keys} keys and ${certificates} certificates expiring or expired, ${rotations} rotations started`)
  return { keys, certificates, rotations }
}
