/**
 * SAP Destination service emulator: a real HTTP server on 127.0.0.1 with one Destination service instance per
 * subaccount (and its service key), the subaccount-level destinations and certificates of the REST API, the find
 * API that fetches the tokens of OAuth2ClientCredentials destinations (with a client secret, or a client
 * certificate over mTLS), fault injection, a log of what it received and an admin API.
 */
import http from 'http'
import { listen, stopServer, trackSockets } from '../net'
import { DEV_SUBACCOUNT_1_ID, DEV_SUBACCOUNT_2_ID } from '../catalog'
import { randomToken } from '../ids'
import { buildDestinationApp, destinationAdminRouter, DestinationTokens, type SubaccountStore } from './app'
import type { DestinationEmulator, DestinationEmulatorOptions, DestinationFault, DestinationRecordedCall, DestinationServiceKey } from './types'

export type * from './types'

/** The dev subaccounts' Destination service keys (dev only). */
export const DEV_DESTINATION_CLIENT_1_ID = 'sb-destination-dev-1!b404'
export const DEV_DESTINATION_CLIENT_1_SECRET = 'dev-only-destination-secret-1'
export const DEV_DESTINATION_CLIENT_2_ID = 'sb-destination-dev-2!b404'
export const DEV_DESTINATION_CLIENT_2_SECRET = 'dev-only-destination-secret-2'

export async function startDestinationEmulator(options: DestinationEmulatorOptions = {}): Promise<DestinationEmulator> {
  const seeds = options.subaccounts ?? [
    { subaccountId: DEV_SUBACCOUNT_1_ID, clientid: DEV_DESTINATION_CLIENT_1_ID, clientsecret: DEV_DESTINATION_CLIENT_1_SECRET },
    { subaccountId: DEV_SUBACCOUNT_2_ID, clientid: DEV_DESTINATION_CLIENT_2_ID, clientsecret: DEV_DESTINATION_CLIENT_2_SECRET }
  ]
  const keys: DestinationServiceKey[] = seeds.map((s, i) => ({
    subaccountId: s.subaccountId,
    clientid: s.clientid ?? `sb-destination-${i + 1}!b404`,
    clientsecret: s.clientsecret ?? randomToken(24),
    uri: '',
    url: ''
  }))
  const stores = new Map<string, SubaccountStore>()
  const seed = () => {
    stores.clear()
    for (const k of keys) stores.set(k.subaccountId, { destinations: new Map(), certificates: new Map() })
  }
  seed()
  const calls: DestinationRecordedCall[] = []
  const faults: DestinationFault[] = []
  const admin = options.admin ? destinationAdminRouter(() => self) : undefined
  const tokens = new DestinationTokens(options.tokenTtlSeconds ?? 43199)
  const server = http.createServer(buildDestinationApp({ keys, stores, calls, faults, opts: options, admin }, tokens))
  const sockets = trackSockets(server)
  const port = await listen(server, options.port ?? 0)
  const url = `http://127.0.0.1:${port}`
  for (const k of keys) Object.assign(k, { uri: url, url })
  let closing: Promise<void> | undefined
  const self: DestinationEmulator = {
    url,
    keys,
    calls,
    destinations: subaccountId => [...(stores.get(subaccountId)?.destinations.values() ?? [])].map(d => ({ ...d })),
    certificates: subaccountId => [...(stores.get(subaccountId)?.certificates.keys() ?? [])],
    addFault: f => void faults.push({ ...f }),
    clearFaults: () => void faults.splice(0),
    reset() {
      seed()
      faults.splice(0)
      calls.length = 0
    },
    close() {
      closing ??= stopServer(server, sockets)
      return closing
    }
  }
  return self
}
