import type { AxiosInstance, AxiosResponse } from 'axios'
import { eventually } from './support/eventually'
import { mockedUsers } from './support/users'

export { eventually, quietFor } from './support/eventually'

/** Sample data (db/data) used across suites. */
export const SUB1 = '0c7a51f2-3b6d-4e8a-9f10-2d4c6e8a0b11'
export const SUB2 = '0c7a51f2-3b6d-4e8a-9f10-2d4c6e8a0b22'
export const PLANS = {
  sub1: {
    aicoreExtended: '2f485b4e-b805-5322-a6a3-016f1ace1150',
    integrationAssessment: 'c6790429-4c89-5e55-9fac-3efa902a3307',
    afcApiStandard: 'ac7cd7be-6c70-5a91-a0c0-b0e02d69d4aa',
    cloudAlmApi: '0f9c47de-41fd-5a4d-9d90-1a271a7c11fe',
    xsuaaApplication: 'f144ebdf-e1f3-5813-acca-d3353ea7d7d0'
  },
  sub2: {
    aicoreExtendedNotEntitled: '120640c8-ae19-5ff9-a0dd-982258e69f46',
    xsuaaApplication: '64f5e179-298d-5fc9-b4ac-cd2bc9c158ba'
  }
}

/** The mocked users of .cdsrc.json as basic-auth credentials. */
export const users: Record<string, { username: string; password: string }> = Object.fromEntries(
  Object.entries(mockedUsers).map(([username, u]) => [username, { username, password: u.password ?? '' }])
)

export const API = '/odata/v4/provisioning'

/**
 * An HTTP client over the test server that never throws on a status, authenticated as the mocked `user`.
 * `axios` may be a function: the client then reads the server's client at each call (usable before the server starts).
 */
export function as(axios: AxiosInstance | (() => AxiosInstance), user = 'admin') {
  const auth = users[user]
  if (!auth) throw new Error(`${user} is not a mocked user of .cdsrc.json`)
  const cfg = { auth, validateStatus: () => true }
  const http = 'request' in axios ? () => axios : axios
  return {
    get: (url: string) => http().get(url, cfg),
    post: (url: string, body: unknown) => http().post(url, body, cfg),
    patch: (url: string, body: unknown) => http().patch(url, body, cfg),
    delete: (url: string) => http().delete(url, cfg)
  }
}

export type Client = ReturnType<typeof as>

const answer = (res: AxiosResponse) => `${res.status}: ${JSON.stringify(res.data)}`

/** Polls an OData entity until `done(row)` holds; fails with the last answer after `timeoutMs`. */
export async function waitFor(client: Client, url: string, done: (row: any) => boolean, timeoutMs = 20000): Promise<any> {
  const res = await eventually(() => client.get(url), { what: url, until: r => r.status === 200 && done(r.data), show: answer, timeout: timeoutMs })
  return res.data
}

export const stateIs = (...states: string[]) => (row: { state_code: string }) => states.includes(row.state_code)

/** Waits until no operation is pending or running, so a suite ends with the queue at rest. */
export async function settle(client: Client, timeoutMs = 30000) {
  const open = `${API}/Operations?$filter=state_code eq 'pending' or state_code eq 'running'&$count=true&$top=0`
  await eventually(() => client.get(open), { what: 'the operations to settle', until: r => r.status === 200 && r.data['@odata.count'] === 0, show: answer, timeout: timeoutMs })
}
