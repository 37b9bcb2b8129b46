/**
 * Kind `destination`: Service Manager access from the BTP destination named in the subaccount's row (SAP
 * Cloud SDK: the destination service in Cloud Foundry, the `destinations` environment variable locally).
 * The destination is an OAuth2ClientCredentials destination: URL = sm_url, token service URL = the UAA's
 * `/oauth/token`, authenticated with a client secret, or with a client certificate (the destination's key
 * store, PEM or PKCS#12, `keyStoreName` among its certificates): the token is then fetched over mTLS
 * from the token service URL (the UAA's `.cert.` host). A trust store certificate of the destination is
 * trusted at the token endpoint too.
 *
 * After a 401, the destination is read again past the SDK's cache: a rotated secret or certificate in the
 * destination is used from the next call on.
 */
import type { Destination, DestinationCertificate } from '@sap-cloud-sdk/connectivity'
import { ServiceManagerService, ServiceManagerAccessError, type SubaccountRef } from './service'
import { ServiceManagerError } from './errors'
import type { SMCredentials } from './credentials'

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g

/** The client certificate of a destination (its key store), as SM credentials fields; undefined without. */
function clientCertificate(d: Destination, label: string): Pick<SMCredentials, 'certificate' | 'key' | 'pfx' | 'passphrase'> | undefined {
  if (!d.keyStoreName) return undefined
  const store = d.certificates?.find((c: DestinationCertificate) => c.name === d.keyStoreName)
  if (!store?.content) throw new ServiceManagerAccessError(label)
  const format = (store.name.split('.').pop() ?? '').toLowerCase()
  const passphrase = d.keyStorePassword ? { passphrase: d.keyStorePassword } : {}
  if (format === 'p12' || format === 'pfx') return { pfx: store.content, ...passphrase }
  if (format !== 'pem') throw new ServiceManagerError({ code: 'InvalidCredentials', description: `key store ${store.name} of destination ${d.name ?? ''}: only PEM and PKCS#12 are supported`, retryable: false })
  const pem = Buffer.from(store.content, 'base64').toString('utf8')
  const blocks = [...pem.matchAll(PEM_BLOCK)]
  const certificate = blocks.filter(b => b[1] === 'CERTIFICATE').map(b => b[0]).join('\n')
  const key = blocks.find(b => /PRIVATE KEY$/.test(b[1]))?.[0]
  if (!certificate || !key) throw new ServiceManagerError({ code: 'InvalidCredentials', description: `key store ${store.name} of destination ${d.name ?? ''} needs a certificate and its private key`, retryable: false })
  return { certificate, key, ...passphrase }
}

export class DestinationServiceManager extends ServiceManagerService {
  protected async credentials(sub: SubaccountRef, fresh: boolean): Promise<SMCredentials> {
    const label = sub.displayName ?? sub.subaccountId
    if (!sub.destination) throw new ServiceManagerAccessError(label)
    const { getDestination } = await import('@sap-cloud-sdk/connectivity')
    let d: Destination | null
    try {
      d = await getDestination({ destinationName: sub.destination, useCache: !fresh })
    } catch (e) {
      // no destination service bound (and not in the environment): a configuration problem, not worth a retry;
      // with the service bound, a failed look-up may pass: retry it like any unavailable remote
      if (!process.env.VCAP_SERVICES?.includes('"destination"')) throw new ServiceManagerAccessError(label)
      throw new ServiceManagerError({ code: 'DestinationUnavailable', description: (e as Error).message, retryable: true })
    }
    if (!d?.url || !d.clientId || !d.tokenServiceUrl) throw new ServiceManagerAccessError(label)
    const tokenBase = d.tokenServiceUrl.replace(/\/oauth\/token\/?$/, '')
    const ca = d.trustStoreCertificate?.content ? { ca: Buffer.from(d.trustStoreCertificate.content, 'base64').toString('utf8') } : {}
    const cert = clientCertificate(d, label)
    if (cert) return { sm_url: d.url, clientid: d.clientId, certurl: tokenBase, ...cert, ...ca }
    if (!d.clientSecret) throw new ServiceManagerAccessError(label)
    return { sm_url: d.url, url: tokenBase, clientid: d.clientId, clientsecret: d.clientSecret, ...ca }
  }
}

export default DestinationServiceManager
