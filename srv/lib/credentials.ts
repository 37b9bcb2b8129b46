import { X509Certificate } from 'node:crypto'

/**
 * Reads the non-secret facts a consumer needs out of a binding's credentials, whatever the service's
 * shape: OAuth data flat or under `uaa`, the API base URL under the field name the service uses.
 */
export interface CredentialMetadata {
  credentialType: 'binding-secret' | 'x509'
  clientId?: string
  tokenUrl?: string
  apiUrl?: string
  certFingerprint?: string
  expiresAt?: string
}

type Json = Record<string, unknown>

/** Where services put their API base URL, most specific first. `url` counts only when OAuth data is nested. */
const API_URL_FIELDS: ReadonlyArray<{ path: string; onlyWhenOAuthNested?: boolean }> = [
  { path: 'entities' },
  { path: 'endpoints.Api' },
  { path: 'endpoints.api' },
  { path: 'serviceurls.AI_API_URL' },
  { path: 'url', onlyWhenOAuthNested: true },
  { path: 'apiurl' }
]

/** Fields that hold secrets anywhere in a credentials object. */
export const SECRET_FIELDS = ['clientsecret', 'key', 'password', 'secret', 'private_key', 'privateKey'] as const

function at(obj: Json, path: string): unknown {
  return path.split('.').reduce<unknown>((o, p) => (o && typeof o === 'object' ? (o as Json)[p] : undefined), obj)
}

const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined)
const trimSlash = (u: string) => u.replace(/\/+$/, '')

/** The object holding clientid/url: the credentials themselves, else their `uaa` part. */
export function oauthPart(credentials: Json): Json {
  if (str(credentials.clientid)) return credentials
  const uaa = credentials.uaa
  if (uaa && typeof uaa === 'object') return uaa as Json
  return credentials
}

export function isX509(credentials: Json): boolean {
  const oauth = oauthPart(credentials)
  return oauth['credential-type'] === 'x509' || !!str(oauth.certurl) || (!!str(oauth.certificate) && !str(oauth.clientsecret))
}

export function tokenUrlOf(credentials: Json): string | undefined {
  const oauth = oauthPart(credentials)
  const base = isX509(credentials) ? str(oauth.certurl) ?? str(oauth.url) : str(oauth.url)
  return base ? `${trimSlash(base)}/oauth/token` : undefined
}

export function apiUrlOf(credentials: Json): string | undefined {
  const nested = oauthPart(credentials) !== credentials
  for (const field of API_URL_FIELDS) {
    if (field.onlyWhenOAuthNested && !nested) continue
    const value = str(at(credentials, field.path))
    if (value) return value
  }
  const urls = credentials.serviceurls
  if (urls && typeof urls === 'object') return Object.values(urls as Json).map(str).find(Boolean)
  return undefined
}

/** The leaf certificate of a PEM chain, if any. */
export function leafCertificate(pem: string | undefined): X509Certificate | undefined {
  if (!pem) return undefined
  const block = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem.replace(/\\n/g, '\n'))
  if (!block) return undefined
  try {
    return new X509Certificate(block[0])
  } catch {
    return undefined
  }
}

export function credentialMetadata(credentials: Json, ownCertificatePem?: string): CredentialMetadata {
  const oauth = oauthPart(credentials)
  const x509 = isX509(credentials)
  const meta: CredentialMetadata = {
    credentialType: x509 ? 'x509' : 'binding-secret',
    clientId: str(oauth.clientid),
    tokenUrl: tokenUrlOf(credentials),
    apiUrl: apiUrlOf(credentials)
  }
  if (x509) {
    const cert = leafCertificate(str(oauth.certificate) ?? ownCertificatePem)
    if (cert) {
      meta.certFingerprint = cert.fingerprint256
      meta.expiresAt = new Date(cert.validTo).toISOString()
    }
  }
  return meta
}
