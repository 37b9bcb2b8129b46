import cds from '@sap/cds'
import type { Request } from '@sap/cds'
import { CertificateInputError, certificateStatus, parseCertificatePem } from './lib/certificates'
import { settings } from './lib/config'
import { clientForSubaccount } from './service-manager/kinds'
import { announce } from './events'
import { auditOrRefuse } from './lib/audit'

type Row = Record<string, any>
type Json = Record<string, unknown>

const db = () => cds.entities('btp.provisioning')
const LOG = cds.log('key-health')

// ---- certificates ----------------------------------------------------------------------------------

/** Parses an uploaded PEM into the row's facts; only the public certificate chain is kept. */
export async function prepareCertificate(req: Request) {
  const d = req.data as Row
  let facts
  try {
    facts = parseCertificatePem(typeof d.pem === 'string' ? d.pem : '')
  } catch (e) {
    if (e instanceof CertificateInputError) {
      d.pem = null // never keep what was pasted, e.g. a private key
      return req.reject({ status: 400, message: e.code, target: 'pem', args: e.args as unknown[] })
    }
    throw e
  }
  const { Certificates } = db()
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
  })
}

/** Certificates are facts about a file: only the display name may change. */
export function guardCertificateUpdate(req: Request) {
  const changed = Object.keys(req.data as Row).filter(k => !['ID', 'name', 'modifiedAt', 'modifiedBy'].includes(k))
  if (changed.length) req.reject({ status: 405, message: 'CERT_IMMUTABLE' })
}

export async function guardCertificateDelete(req: Request) {
  const p = req.params.at(-1) as Row | string
  const ID = typeof p === 'object' ? p.ID : p
  const { ServiceKeys } = db()
  const { count } = (await SELECT.one`count(*) as count`.from(ServiceKeys).where({ certificate_ID: ID, state_code: { '!=': 'Deleted' } })) as { count: number }
  if (count > 0) req.reject({ status: 409, message: 'CERT_IN_USE', args: [count] })
}

export function addDaysLeft(rows: Row[] | Row | undefined) {
  const list = Array.isArray(rows) ? rows : rows ? [rows] : []
  const now = Date.now()
  for (const row of list) if (row.notAfter) row.daysLeft = Math.floor((Date.parse(row.notAfter) - now) / 86400000)
}

// ---- credentials on demand -------------------------------------------------------------------------

/** Reads a key's credentials live from Service Manager; nothing of them is stored. */
export async function liveCredentials(key: Row, req: Request): Promise<Json> {
  if (key.state_code !== 'Ready' || !key.smId) return req.reject({ status: 422, message: 'KEY_NOT_READY', args: [key.name, key.state_code] })
  const inst = await SELECT.one.from(db().ServiceInstances, key.instance_ID)
  const sm = await clientForSubaccount(inst.subaccount_ID)
  const binding = await sm.getBinding(key.smId)
  if (!binding) return req.reject({ status: 404, message: 'KEY_NOT_FOUND_IN_SM', args: [key.name] })
  return (binding.credentials ?? {}) as Json
}

/**
 * One audit record per read of a key's credentials: who, which key, when (time and user added by the audit
 * log). Written before the credentials leave, and not through the queue: while the audit log cannot take it,
 * the read is refused with 503 AUDIT_LOG_UNAVAILABLE (lib/audit.ts).
 */
export async function auditCredentialRead(key: Row, how: 'reveal' | 'download', req: Request) {
  await auditOrRefuse(req, 'SensitiveDataRead', {
    data_subject: { type: 'ProvisioningService.ServiceKeys', id: { ID: key.ID }, role: 'ServiceKey' },
    object: { type: 'ProvisioningService.ServiceKeys', id: { ID: key.ID, name: key.name, smId: key.smId } },
    attributes: [{ name: 'credentials' }],
    channel: how
  })
}

// ---- expiry scan -----------------------------------------------------------------------------------

/**
 * Marks keys and certificates by how close their end of validity is, and announces the ones whose state
 * changed to expiring or expired with KeyExpiring / CertificateExpiring events.
 */
export async function scanExpiry(now = new Date()): Promise<{ keys: number; certificates: number }> {
  const { ServiceKeys, Certificates } = db()
  const warnDays = settings().expiryWarnDays
  let keys = 0
  let certificates = 0

  const keyRows: Row[] = await SELECT.from(ServiceKeys).where({ expiresAt: { '!=': null }, state_code: { in: ['Ready', 'Creating'] } })
  for (const key of keyRows) {
    const { status, daysLeft } = certificateStatus(new Date(key.expiresAt), { now, warnDays })
    if (status !== 'valid') keys++
    if (status === key.expiry_code) continue
    await UPDATE(ServiceKeys, key.ID).with({ expiry_code: status })
    if (status !== 'valid') {
      const inst = await SELECT.one.from(db().ServiceInstances, key.instance_ID)
      await announce('KeyExpiring', {
        serviceKey: key.ID,
        name: key.name,
        instance: key.instance_ID,
        subaccount: inst?.subaccount_ID,
        expiresAt: key.expiresAt,
        daysLeft
      })
    }
  }

  const certRows: Row[] = await SELECT.from(Certificates).where({ notAfter: { '!=': null } })
  for (const cert of certRows) {
    const { status, daysLeft } = certificateStatus(new Date(cert.notAfter), { now, warnDays })
    if (status !== 'valid') certificates++
    if (status === cert.expiry_code) continue
    await UPDATE(Certificates, cert.ID).with({ expiry_code: status })
    if (status !== 'valid')
      await announce('CertificateExpiring', { certificate: cert.ID, name: cert.name, subject: cert.subject, notAfter: cert.notAfter, daysLeft })
  }
  LOG.info(`Expiry scan: ${keys} keys and ${certificates} certificates expiring or expired`)
  return { keys, certificates }
}
