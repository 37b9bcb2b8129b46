import axios, { type AxiosInstance } from 'axios'
import { spawnUntil, type Proc } from '../resilience/support'
import { CDS_LISTENING, onLoopback } from '../support/process'

export interface ConsumerOptions {
  /** its cds.requires.ProvisioningService.credentials: where our OData API is and how it logs in */
  credentials: Record<string, unknown>
  /** the file of file-based messaging it receives our events through */
  messages: string
  /** more of its environment (a service binding in VCAP_SERVICES) */
  env?: Record<string, string>
}

/**
 * examples/consumer as a developer runs it (`cds-tsx serve` in its folder: development profile, mocked users,
 * SQLite in memory), as a process of its own. Answers the process and a client of its API as its mocked user
 * alice, which never throws on a status.
 */
export async function startConsumer(name: string, options: ConsumerOptions): Promise<{ proc: Proc; http: AxiosInstance }> {
  const { proc, match } = await spawnUntil(
    name,
    'sh',
    ['-c', 'cd examples/consumer && exec cds-tsx serve --port 0'],
    {
      NODE_ENV: undefined,
      CDS_TYPESCRIPT: 'true',
      HOST: '127.0.0.1',
      PORT: undefined,
      ...options.env,
      CDS_CONFIG: JSON.stringify({
        requires: {
          ProvisioningService: { credentials: options.credentials },
          messaging: { kind: 'file-based-messaging', file: options.messages }
        }
      })
    },
    CDS_LISTENING
  )
  const http = axios.create({ baseURL: onLoopback(match[1]), headers: { authorization: `Basic ${Buffer.from('alice:').toString('base64')}` }, validateStatus: () => true })
  return { proc, http }
}
