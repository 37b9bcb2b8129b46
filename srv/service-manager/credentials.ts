/** SM access credentials (a `service-manager` binding / service key) and how to get a token with them. */
import { ServiceManagerError } from './errors'
import type { ClientAuth } from '../lib/oauth'

export interface SMCredentials {
  /** SM API base, e.g. https://service-manager.cfapps.eu10.hana.ondemand.com */
  sm_url: string
  /** XSUAA base of the subaccount (client-secret variant) */
  url?: string
  clientid: string
  clientsecret?: string
  /** X.509 variant: PEM chain (leaf first), PEM private key, and the `.cert.` XSUAA base */
  certificate?: string
  key?: string
  certurl?: string
  xsappname?: string
  /** X.509 from a PKCS#12 key store instead of PEM (base64), with its password */
  pfx?: string
  passphrase?: string
  /** extra CA certificate (PEM) to trust at the token endpoint, e.g. a destination's trust store */
  ca?: string
}

export function stripTrailingSlashes(u: string): string {
  return u.replace(/\/+$/, '')
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined
}

/**
 * Accept the shapes SM credentials come in: the SM binding (`certurl`), the Accounts service's
 * serviceManagementBinding (`certUrl` camelCase), and a nested `uaa` object for the OAuth part.
 */
export function normalizeSMCredentials(raw: Record<string, unknown>): SMCredentials {
  const uaa = raw.uaa !== null && typeof raw.uaa === 'object' ? (raw.uaa as Record<string, unknown>) : {}
  const pick = (...keys: string[]): string | undefined => {
    for (const k of keys) {
      const v = str(raw[k]) ?? str(uaa[k])
      if (v) return v
    }
    return undefined
  }
  const creds: SMCredentials = {
    sm_url: pick('sm_url', 'smUrl') ?? '',
    clientid: pick('clientid', 'clientId') ?? ''
  }
  const optional: Array<[keyof SMCredentials, string[]]> = [
    ['url', ['url']],
    ['clientsecret', ['clientsecret', 'clientSecret']],
    ['certificate', ['certificate']],
    ['key', ['key']],
    ['certurl', ['certurl', 'certUrl']],
    ['xsappname', ['xsappname']]
  ]
  for (const [target, keys] of optional) {
    const v = pick(...keys)
    if (v) creds[target] = v
  }
  return creds
}

/**
 * Decide how to fetch tokens. X.509 wins when certificate and key are present (the SM X.509 key has no
 * secret); otherwise client id + secret against `url`. Throws InvalidCredentials naming missing fields only.
 */
export function resolveTokenAuth(creds: SMCredentials): ClientAuth {
  const missing = (fields: string[]) =>
    new ServiceManagerError({
      code: 'InvalidCredentials',
      description: `SM credentials incomplete: missing ${fields.join(', ')}`,
      retryable: false
    })
  if (!str(creds.sm_url)) throw missing(['sm_url'])
  if (!str(creds.clientid)) throw missing(['clientid'])
  if (str(creds.pfx)) {
    const base = str(creds.certurl)
    if (!base) throw missing(['certurl'])
    return {
      kind: 'pfx',
      tokenUrl: `${stripTrailingSlashes(base)}/oauth/token`,
      clientId: creds.clientid,
      pfx: Buffer.from(creds.pfx as string, 'base64'),
      ...(str(creds.passphrase) ? { passphrase: creds.passphrase } : {})
    }
  }
  if (str(creds.certificate) && str(creds.key)) {
    const base = str(creds.certurl)
    if (!base) throw missing(['certurl'])
    return {
      kind: 'x509',
      tokenUrl: `${stripTrailingSlashes(base)}/oauth/token`,
      clientId: creds.clientid,
      certificate: creds.certificate as string,
      key: creds.key as string,
      ...(str(creds.passphrase) ? { passphrase: creds.passphrase } : {})
    }
  }
  const fields: string[] = []
  if (!str(creds.url)) fields.push('url')
  if (!str(creds.clientsecret)) fields.push('clientsecret')
  if (fields.length) throw missing(fields)
  return {
    kind: 'secret',
    tokenUrl: `${stripTrailingSlashes(creds.url as string)}/oauth/token`,
    clientId: creds.clientid,
    clientSecret: creds.clientsecret as string
  }
}
