import http from 'node:http'
import axios, { type AxiosInstance } from 'axios'
import {
  DEV_TENANT_1_CLIENT_ID,
  DEV_TENANT_1_CLIENT_SECRET,
  DEV_TENANT_2_CLIENT_ID,
  DEV_TENANT_2_CLIENT_SECRET,
  startEmulator,
  type Emulator,
  type EmulatorOptions
} from '../../emulator'

/** No connection reuse: an emulator closed after a test has no connection of ours left open. */
export const noKeepAlive = new http.Agent({ keepAlive: false })

/**
 * Service Manager emulators a suite talks to directly, each test with its own: `start` starts one with
 * `options`, and every emulator started in a test is closed after it.
 */
export function useEmulators() {
  const running: Emulator[] = []
  afterEach(async () => {
    await Promise.all(running.splice(0).map(e => e.close()))
  })
  const start = async (options?: EmulatorOptions): Promise<Emulator> => {
    const e = await startEmulator(options)
    running.push(e)
    return e
  }
  return { start }
}

/** A Service Manager client of `e` as its default tenant 1 (or 2): JSON, a token of that tenant, never throws on a status. */
export async function smClient(e: Emulator, tenant: 1 | 2 = 1): Promise<AxiosInstance> {
  const [clientId, clientSecret] = tenant === 1 ? [DEV_TENANT_1_CLIENT_ID, DEV_TENANT_1_CLIENT_SECRET] : [DEV_TENANT_2_CLIENT_ID, DEV_TENANT_2_CLIENT_SECRET]
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret })
  const t = await axios.post<{ access_token: string }>(`${e.url}/oauth/token`, form.toString(), {
    httpAgent: noKeepAlive,
    proxy: false,
    validateStatus: () => true,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' }
  })
  expect(t.status).toBe(200)
  return axios.create({
    baseURL: e.url,
    httpAgent: noKeepAlive,
    proxy: false,
    validateStatus: () => true,
    headers: { Authorization: `Bearer ${t.data.access_token}`, 'Content-Type': 'application/json' }
  })
}
