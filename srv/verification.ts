import cds from '@sap/cds'
import https from 'node:https'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import axios from 'axios'
import { isX509, leafCertificate, oauthPart, tokenUrlOf } from './lib/credentials'
import { trustedCa } from './service-manager/kinds'
import { announce } from './events'

type Json = Record<string, unknown>
type Row = Record<string, any>

const LOG = cds.log('verification')

export interface TokenCheck {
  ok: boolean
  httpStatus?: number
  latencyMs: number
  message: string
}

/** A client mistake in a verification request (e.g. a private key that does not belong to the certificate). */
export class VerificationInputError extends Error {
  constructor(
    readonly code: string,
    readonly args: unknown[] = []
  ) {
    super(code)
  }
}

const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined)

/**
 * Fetches an OAuth token with a key's credentials, the way a consumer would: client id and secret against
 * the token URL, or mutual TLS with the key's certificate and private key against the cert URL.
 * Never returns or logs the token, the secret or the private key.
 */
export async function fetchToken(credentials: Json, opts: { certificatePem?: string; privateKeyPem?: string; timeoutMs?: number } = {}): Promise<TokenCheck> {
  const oauth = oauthPart(credentials)
  const tokenUrl = tokenUrlOf(credentials)
  const clientId = str(oauth.clientid)
  if (!tokenUrl || !clientId) return { ok: false, latencyMs: 0, message: 'The credentials have no client ID or token URL' }

  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId })
  let httpsAgent: https.Agent | undefined
  if (isX509(credentials)) {
    const cert = str(oauth.certificate)?.replace(/\\n/g, '\n') ?? opts.certificatePem
    const key = str(oauth.key)?.replace(/\\n/g, '\n') ?? opts.privateKeyPem
    if (!cert || !key) return { ok: false, latencyMs: 0, message: 'The certificate or its private key is missing for mutual TLS' }
    httpsAgent = new https.Agent({ cert, key, ca: await caBundle(), keepAlive: false })
  } else {
    const secret = str(oauth.clientsecret)
    if (!secret) return { ok: false, latencyMs: 0, message: 'The credentials have no client secret' }
    form.set('client_secret', secret)
  }

  const started = Date.now()
  try {
    const res = await axios.post(tokenUrl, form.toString(), {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      httpsAgent,
      timeout: opts.timeoutMs ?? 15000,
      validateStatus: () => true,
      maxRedirects: 0
    })
    const latencyMs = Date.now() - started
    const body = (res.data ?? {}) as Json
    if (res.status === 200 && str(body.access_token)) {
      const ttl = typeof body.expires_in === 'number' ? ` valid for ${body.expires_in} s` : ''
      return { ok: true, httpStatus: 200, latencyMs, message: `A token was issued${ttl}` }
    }
    const reason = str(body.error_description) ?? str(body.error) ?? `HTTP ${res.status}`
    return { ok: false, httpStatus: res.status, latencyMs, message: `The token endpoint refused the key (${res.status}): ${reason}` }
  } catch (e) {
    const err = e as { code?: string; message?: string }
    return { ok: false, latencyMs: Date.now() - started, message: `The token endpoint could not be reached: ${err.code ?? 'network error'}` }
  } finally {
    httpsAgent?.destroy()
  }
}

async function caBundle(): Promise<string[] | undefined> {
  const extra = await trustedCa()
  if (!extra) return undefined
  const tls = await import('node:tls')
  return [...tls.rootCertificates, extra]
}

/** Checks that a pasted private key is a PEM key belonging to the certificate. */
export function checkPrivateKey(privateKeyPem: string, certificatePem: string) {
  try {
    const cert = leafCertificate(certificatePem) ?? new X509Certificate(certificatePem)
    if (!cert.checkPrivateKey(createPrivateKey(privateKeyPem))) throw new Error('mismatch')
  } catch {
    throw new VerificationInputError('PRIVATE_KEY_INVALID')
  }
}

/**
 * Verifies a key with credentials at hand and records the result on the key and as a verify Operations row;
 * emits KeyVerificationFailed when no token could be fetched.
 */
export async function recordVerification(key: Row, credentials: Json, opts: { certificatePem?: string; privateKeyPem?: string }) {
  const check = await fetchToken(credentials, opts)
  await saveVerification(key, check)
  return check
}

/**
 * Records a token check on the key and as a verify Operations row, in the caller's transaction; emits
 * KeyVerificationFailed when no token could be fetched.
 */
export async function saveVerification(key: Row, check: TokenCheck) {
  const { ServiceKeys, Operations, ServiceInstances } = cds.entities('btp.provisioning')
  const now = new Date().toISOString()
  // in the caller's transaction: the verify action's request, or the queued step that created the key
  const inst = await SELECT.one.from(ServiceInstances, key.instance_ID)
  {
    await INSERT.into(Operations).entries({
      ID: cds.utils.uuid(),
      type: 'verify',
      targetType: 'serviceKey',
      serviceKey_ID: key.ID,
      instance_ID: key.instance_ID,
      subaccount_ID: inst?.subaccount_ID,
      state_code: check.ok ? 'succeeded' : 'failed',
      startedAt: now,
      finishedAt: now,
      httpStatus: check.httpStatus ?? null,
      latency: check.latencyMs,
      error: check.ok ? null : check.message
    })
    await UPDATE(ServiceKeys, key.ID).with({
      verification_code: check.ok ? 'ok' : 'failed',
      verifiedAt: now,
      verifyStatus: check.httpStatus ?? null,
      verifyLatency: check.latencyMs,
      verifyMessage: check.message
    })
  }
  if (!check.ok) {
    LOG.warn(`Verification of key ${key.name} failed:`, check.message)
    await announce('KeyVerificationFailed', {
      serviceKey: key.ID,
      name: key.name,
      instance: key.instance_ID,
      subaccount: inst?.subaccount_ID,
      httpStatus: check.httpStatus ?? null,
      message: check.message
    })
  }
}
