/**
 * The one place that speaks the Destination service's REST API (subaccount level): a client-credentials token
 * per service key (srv/lib/oauth.ts: cached until shortly before it expires, dropped after a 401), destinations
 * and certificates written idempotently (PUT, and POST where it does not exist yet), deleted with 404 meaning
 * done. Failures say whether a later try may succeed and when (srv/lib/retry.ts).
 */
import { createHash } from 'node:crypto'
import { requestToken, TokenCache, TokenRequestError } from '../lib/oauth'
import { isTransientStatus, parseRetryAfter } from '../lib/retry'

/** A Destination service key as DestinationTargets holds it: given there, or in a BTP destination it names. */
export interface DestinationTarget {
  ID: string
  destination?: string | null
  uri?: string | null
  tokenUrl?: string | null
  clientId?: string | null
  clientSecret?: string | null
}

/** The key's fields, read from the BTP destination that holds it. */
interface ResolvedKey {
  uri: string
  tokenUrl: string
  clientId: string
  clientSecret: string
}

/** A failed call: its status (0: no answer) and the service's message; never a secret. */
export class DestinationServiceError extends Error {
  /** no answer, a timeout, the rate limit or a server error: worth another try later */
  readonly retryable: boolean
  constructor(
    public readonly status: number,
    message: string,
    /** the answer's Retry-After, when it gave one */
    public readonly retryAfterMs?: number
  ) {
    super(message)
    this.retryable = status === 0 || isTransientStatus(status)
  }
}

const TIMEOUT_MS = 10_000
/** token caches per target and key (a key read again with another secret gets its own) */
const tokens = new Map<string, TokenCache>()

const trim = (u: string) => u.replace(/\/+$/, '')

async function call(url: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) })
  } catch (e) {
    throw new DestinationServiceError(0, `${what}: no answer from the Destination service (${(e as Error).message})`)
  }
}

async function messageOf(res: Response): Promise<string> {
  const text = await res.text().catch(() => '')
  try {
    const body = JSON.parse(text) as { ErrorMessage?: string; error_description?: string; error?: string }
    return String(body.ErrorMessage ?? body.error_description ?? body.error ?? '').slice(0, 300)
  } catch {
    return text.slice(0, 300)
  }
}

/**
 * The key of a target: its own fields, or those of the BTP destination it names (SAP Cloud SDK: the destination
 * service of this application, the `destinations` environment variable locally); `fresh` reads past the SDK's
 * cache (after a 401: a rotated secret in the destination is used from then on).
 */
async function keyOf(target: DestinationTarget, fresh: boolean): Promise<ResolvedKey> {
  if (!target.destination) {
    if (!target.uri || !target.tokenUrl || !target.clientId || !target.clientSecret) throw new DestinationServiceError(401, 'The Destination service key is incomplete')
    return { uri: target.uri, tokenUrl: target.tokenUrl, clientId: target.clientId, clientSecret: target.clientSecret }
  }
  const { getDestination } = await import('@sap-cloud-sdk/connectivity')
  let d: Awaited<ReturnType<typeof getDestination>>
  try {
    d = await getDestination({ destinationName: target.destination, useCache: !fresh })
  } catch (e) {
    throw new DestinationServiceError(0, `The destination ${target.destination} holding the Destination service key cannot be read: ${(e as Error).message}`)
  }
  if (!d?.url || !d.tokenServiceUrl || !d.clientId || !d.clientSecret)
    throw new DestinationServiceError(401, `The destination ${target.destination} holds no Destination service key (URL, token service URL, client ID and secret)`)
  return { uri: d.url, tokenUrl: d.tokenServiceUrl, clientId: d.clientId, clientSecret: d.clientSecret }
}

function tokenFor(target: DestinationTarget, key: ResolvedKey): Promise<string> {
  const secret = createHash('sha256').update(key.clientSecret).digest('base64url')
  const cacheKey = `${target.ID}/${key.clientId}/${key.tokenUrl}/${secret}`
  let cache = tokens.get(cacheKey)
  if (!cache) {
    cache = new TokenCache(() => requestToken({ kind: 'secret', tokenUrl: key.tokenUrl, clientId: key.clientId, clientSecret: key.clientSecret }, { timeoutMs: TIMEOUT_MS }))
    tokens.set(cacheKey, cache)
  }
  return cache.get().catch((e: unknown) => {
    if (!(e instanceof TokenRequestError)) throw e
    if (e.status === undefined) throw new DestinationServiceError(0, `Token: no answer from the Destination service (${e.reason})`)
    if (e.status === 200) throw new DestinationServiceError(e.status, 'The token endpoint answered no access token')
    throw new DestinationServiceError(e.status, `The Destination service key was refused by its token endpoint (${e.status}): ${e.reason}`)
  })
}

/** One authenticated call; after a 401 the token is fetched again once. */
async function api(target: DestinationTarget, method: string, path: string, body?: unknown): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const key = await keyOf(target, attempt > 0)
    let token: string
    try {
      token = await tokenFor(target, key)
    } catch (e) {
      // a key refused by its token endpoint: read once more past the caches (a secret rotated in its destination)
      if (e instanceof DestinationServiceError && e.status === 401 && attempt === 0 && target.destination) continue
      throw e
    }
    const res = await call(
      `${trim(key.uri)}/destination-configuration/v1${path}`,
      { method, headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined },
      `${method} ${path}`
    )
    if (res.status === 401 && attempt === 0) {
      for (const k of tokens.keys()) if (k.startsWith(`${target.ID}/`)) tokens.delete(k)
      continue
    }
    return res
  }
}

async function fail(res: Response, what: string): Promise<never> {
  throw new DestinationServiceError(res.status, `${what} failed (${res.status}): ${await messageOf(res)}`, parseRetryAfter(res.headers.get('retry-after')))
}

/** Writes a subaccount destination: replaces it where it exists, creates it otherwise. */
export async function putDestination(target: DestinationTarget, destination: Record<string, string>): Promise<void> {
  const updated = await api(target, 'PUT', '/subaccountDestinations', destination)
  if (updated.ok) return
  if (updated.status !== 404) return fail(updated, `Updating destination ${destination.Name}`)
  const created = await api(target, 'POST', '/subaccountDestinations', destination)
  // 409: created meanwhile (an earlier attempt whose answer was lost): replace it
  if (created.status === 409) {
    const again = await api(target, 'PUT', '/subaccountDestinations', destination)
    if (again.ok) return
    return fail(again, `Updating destination ${destination.Name}`)
  }
  if (!created.ok) return fail(created, `Creating destination ${destination.Name}`)
}

/** Writes a subaccount certificate (e.g. a .pem with certificate chain and private key). */
export async function putCertificate(target: DestinationTarget, certificate: { Name: string; Type: string; Content: string }): Promise<void> {
  const updated = await api(target, 'PUT', '/subaccountCertificates', certificate)
  if (updated.ok) return
  if (updated.status !== 404) return fail(updated, `Updating certificate ${certificate.Name}`)
  const created = await api(target, 'POST', '/subaccountCertificates', certificate)
  if (!created.ok) return fail(created, `Creating certificate ${certificate.Name}`)
}

/** Deletes a subaccount destination or certificate; one that is not there counts as deleted. */
export async function remove(target: DestinationTarget, what: 'Destinations' | 'Certificates', name: string): Promise<void> {
  const res = await api(target, 'DELETE', `/subaccount${what}/${encodeURIComponent(name)}`)
  if (res.ok || res.status === 404) return
  return fail(res, `Deleting ${what === 'Destinations' ? 'destination' : 'certificate'} ${name}`)
}
