import { getDestination } from '@sap-cloud-sdk/connectivity'

/** What this application learns from a delivered destination's token: whose it is, never the token itself. */
export interface DestinationTokenFacts {
  destination: string
  /** the key of the service key manager the destination holds (its `serviceKeyManager.serviceKey` property) */
  serviceKey: string | null
  /** the OAuth client the token was issued to: the key's client ID */
  clientId: string | null
  tokenType: string
  expiresIn: number | null
}

/** A destination lookup that found nothing usable (the caller answers 404 or 502). */
export class DestinationUnusable extends Error {
  constructor(
    public readonly status: 404 | 502,
    message: string
  ) {
    super(message)
  }
}

/**
 * Looks up a destination that the service key manager wrote a key into, with the SAP Cloud SDK as any CAP
 * application does (the `destination` service binding; locally its emulator), and takes the token that the
 * Destination service fetched with the key's credentials from the key's token endpoint (OAuth2ClientCredentials:
 * client secret, or client certificate for X.509 keys). No credential is copied by hand, none is kept here.
 */
export async function destinationToken(name: string): Promise<DestinationTokenFacts> {
  const destination = await getDestination({ destinationName: name, useCache: false })
  if (!destination) throw new DestinationUnusable(404, `Destination ${name} does not exist`)
  const token = destination.authTokens?.find(t => !t.error && t.value)
  if (!token) throw new DestinationUnusable(502, `Destination ${name} gave no token: ${destination.authTokens?.[0]?.error ?? 'none fetched'}`)
  const payload = token.value.split('.')[1]
  const claims = payload ? (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { client_id?: string; cid?: string }) : {}
  // the destination's own properties (from the find API: under destinationConfiguration)
  const properties = (destination.originalProperties?.destinationConfiguration ?? destination.originalProperties ?? {}) as Record<string, unknown>
  const key = properties['serviceKeyManager.serviceKey']
  return {
    destination: name,
    serviceKey: typeof key === 'string' ? key : null,
    clientId: claims.client_id ?? claims.cid ?? null,
    tokenType: token.type,
    expiresIn: token.expiresIn ? Number(token.expiresIn) : null
  }
}
