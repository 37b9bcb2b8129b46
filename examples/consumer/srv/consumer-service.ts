import cds from '@sap/cds'
import { destinationToken, DestinationUnusable } from './destination-token'

const LOG = cds.log('consumer')

/** The topics the service key manager publishes its key events on (its docs/events.md). */
const TOPIC = {
  KeyReady: 'btp.provisioning.KeyReady',
  KeyRotated: 'btp.provisioning.KeyRotated',
  KeyDeleted: 'btp.provisioning.KeyDeleted'
} as const

/** The key's fields this application keeps: never a secret (those stay in Service Manager). */
const KEY_COLUMNS = ['ID', 'name', 'instance_ID', 'state_code', 'credentialType', 'clientId', 'tokenUrl', 'apiUrl', 'expiresAt']

interface RemoteKey {
  ID: string
  name: string
  instance_ID: string
  state_code: string
  credentialType: string
  clientId: string | null
  tokenUrl: string | null
  apiUrl: string | null
  expiresAt: string | null
}

/** The HTTP status the service key manager answered a failed call with (CAP wraps it as 502). */
function remoteStatus(e: unknown): number | undefined {
  return (e as { reason?: { response?: { status?: number } } }).reason?.response?.status
}

interface KeyEvent {
  serviceKey: string
  name: string
  instance: string
  subaccount: string | null
  rotatedFrom?: string
}

export default class ConsumerService extends cds.ApplicationService {
  async init() {
    const { Keys, ReceivedEvents } = this.entities
    // the service key manager as a remote OData service (cds.requires.ProvisioningService)
    const skm = await cds.connect.to('ProvisioningService')

    /** The key as the service key manager shows it to this application; undefined when out of its reach. */
    const readKey = async (id: string): Promise<RemoteKey | undefined> => {
      try {
        return (await skm.run(SELECT.one.from('ProvisioningService.ServiceKeys', id).columns(...KEY_COLUMNS))) as RemoteKey | undefined
      } catch (e) {
        if (remoteStatus(e) === 404) return undefined
        throw e
      }
    }

    const keep = async (key: RemoteKey, more: Record<string, unknown> = {}) => {
      await UPSERT.into(Keys).entries({
        ID: key.ID,
        name: key.name,
        instance: key.instance_ID,
        state: key.state_code,
        credentialType: key.credentialType,
        clientId: key.clientId,
        tokenUrl: key.tokenUrl,
        apiUrl: key.apiUrl,
        expiresAt: key.expiresAt,
        updatedAt: new Date().toISOString(),
        ...more
      })
    }

    this.on('requestKey', async req => {
      const { template, subaccount, instanceName, keyName } = req.data as Record<string, string>
      type Result = { ID: string; status: string; serviceKey: string | null; instance: string | null }
      let result: Result
      try {
        result = (await skm.send('provision', { template, subaccount, instanceName, keyName })) as Result
      } catch (e) {
        // the service key manager's refusal (a 4xx with its message) is this request's refusal
        const status = remoteStatus(e)
        if (status && status >= 400 && status < 500) return req.reject(status, (e as Error).message.replace(/^Error during request to remote service: /, ''))
        throw e
      }
      if (result.serviceKey)
        await UPSERT.into(Keys).entries({ ID: result.serviceKey, name: keyName, instance: result.instance, subaccount, provisioning: result.ID, state: 'Creating', updatedAt: new Date().toISOString() })
      return { provisioning: result.ID, status: result.status, serviceKey: result.serviceKey, instance: result.instance }
    })

    // a key delivered into a BTP destination (a registration of consumer type destination): read where CAP reads it
    this.on('destinationToken', async req => {
      try {
        return await destinationToken(String((req.data as { name?: string }).name ?? ''))
      } catch (e) {
        if (e instanceof DestinationUnusable) return req.reject(e.status, e.message)
        throw e
      }
    })

    // key events from the service key manager, through messaging (file-based locally, Event Mesh in production)
    const messaging = await cds.connect.to('messaging')
    const received = async (event: keyof typeof TOPIC, data: KeyEvent) => {
      LOG.info(`${event}: key ${data.name} (${data.serviceKey})`)
      await INSERT.into(ReceivedEvents).entries({ event, serviceKey: data.serviceKey, name: data.name, data: JSON.stringify(data), receivedAt: new Date().toISOString() })
    }

    messaging.on(TOPIC.KeyReady, async msg => {
      const data = msg.data as KeyEvent
      await received('KeyReady', data)
      // an event says that something changed; what this application may see, the API decides
      const key = await readKey(data.serviceKey)
      if (key) await keep(key, { subaccount: data.subaccount })
    })

    messaging.on(TOPIC.KeyRotated, async msg => {
      const data = msg.data as KeyEvent
      await received('KeyRotated', data)
      const key = await readKey(data.serviceKey)
      if (!key) return
      await keep(key, { subaccount: data.subaccount })
      if (data.rotatedFrom) await UPDATE(Keys, data.rotatedFrom).with({ rotatedTo: data.serviceKey, updatedAt: new Date().toISOString() })
    })

    messaging.on(TOPIC.KeyDeleted, async msg => {
      const data = msg.data as KeyEvent
      await received('KeyDeleted', data)
      await UPDATE(Keys, data.serviceKey).with({ deleted: true, state: 'Deleted', updatedAt: new Date().toISOString() })
    })

    return super.init()
  }
}
