import cds from '@sap/cds'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { Operation, Operations, OperationStateCode, ServiceInstances, ServiceKeys, VerificationStateCode, type ServiceKey } from '#cds-models/btp/provisioning'
import { isX509, leafCertificate, oauthPart, tokenUrlOf } from './lib/credentials'
import { requestToken, tokenAgent, TokenRequestError, type ClientAuth } from './lib/oauth'
import { trustedCa } from './service-manager/kinds'
import { announce } from './events'

type Json = Record<string, unknown>
/** The columns of a key a verification records against. */
type VerifiedKey = Pick<ServiceKey, 'ID' | 'name' | 'instance_ID'>

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

  let auth: ClientAuth
  if (isX509(credentials)) {
    const certificate = str(oauth.certificate)?.replace(/\\n/g, '\n') ?? opts.certificatePem
    const key = str(oauth.key)?.replace(/\\n/g, '\n') ?? opts.privateKeyPem
    if (!certificate || !key) return { ok: false, latencyMs: 0, message: 'The certificate or its private key is missing for mutual TLS' }
    auth = { kind: 'x509', tokenUrl, clientId, certificate, key }
  } else {
    const clientSecret = str(oauth.clientsecret)
    if (!clientSecret) return { ok: false, latencyMs: 0, message: 'The credentials have no client secret' }
    auth = { kind: 'secret', tokenUrl, clientId, clientSecret }
  }

  const agent = tokenAgent(auth, [await trustedCa()])
  try {
    const token = await requestToken(auth, { agent, timeoutMs: opts.timeoutMs })
    const ttl = token.expiresInSec !== undefined ? ` valid for ${token.expiresInSec} s` : ''
    return { ok: true, httpStatus: token.status, latencyMs: token.latencyMs, message: `A token was issued${ttl}` }
  } catch (e) {
    if (!(e instanceof TokenRequestError)) throw e
    if (e.status === undefined) return { ok: false, latencyMs: e.latencyMs, message: `The token endpoint could not be reached: ${e.reason}` }
    return { ok: false, httpStatus: e.status, latencyMs: e.latencyMs, message: `The token endpoint refused the key (${e.status}): ${e.reason}` }
  } finally {
    agent?.destroy()
  }
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
export async function recordVerification(key: VerifiedKey, credentials: Json, opts: { certificatePem?: string; privateKeyPem?: string }) {
  const check = await fetchToken(credentials, opts)
  await saveVerification(key, check)
  return check
}

/**
 * Records a token check on the key and as a verify Operations row, in the caller's transaction; emits
 * KeyVerificationFailed when no token could be fetched.
 */
export async function saveVerification(key: VerifiedKey, check: TokenCheck) {
  const now = new Date().toISOString()
  // in the caller's transaction: the verify action's request, or the queued step that created the key
  const inst = key.instance_ID ? await SELECT.one.from(ServiceInstances, key.instance_ID).columns('subaccount_ID') : undefined
  await INSERT.into(Operations).entries({
    ID: cds.utils.uuid(),
    type: Operation.type.verify,
    targetType: Operation.targetType.serviceKey,
    serviceKey_ID: key.ID,
    instance_ID: key.instance_ID,
    subaccount_ID: inst?.subaccount_ID,
    state_code: check.ok ? OperationStateCode.succeeded : OperationStateCode.failed,
    startedAt: now,
    finishedAt: now,
    httpStatus: check.httpStatus ?? null,
    latency: check.latencyMs,
    error: check.ok ? null : check.message
  })
  await UPDATE(ServiceKeys, key.ID).with({
    verification_code: check.ok ? VerificationStateCode.ok : VerificationStateCode.failed,
    verifiedAt: now,
    verifyStatus: check.httpStatus ?? null,
    verifyLatency: check.latencyMs,
    verifyMessage: check.message
  })
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
