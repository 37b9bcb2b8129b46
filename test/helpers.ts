import type { AxiosInstance, AxiosResponse } from 'axios'

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

export const users = {
  admin: { username: 'admin', password: 'admin' },
  provisioner: { username: 'provisioner', password: 'provisioner' },
  reader: { username: 'reader', password: 'reader' },
  viewer: { username: 'viewer', password: 'viewer' },
  nobody: { username: 'nobody', password: 'nobody' }
}

export const API = '/odata/v4/provisioning'

/** An HTTP client over the test server that never throws on a status, authenticated as `user`. */
export function as(axios: AxiosInstance, user: keyof typeof users = 'admin') {
  const cfg = { auth: users[user], validateStatus: () => true }
  return {
    get: (url: string) => axios.get(url, cfg),
    post: (url: string, body: unknown) => axios.post(url, body, cfg),
    patch: (url: string, body: unknown) => axios.patch(url, body, cfg),
    delete: (url: string) => axios.delete(url, cfg)
  }
}

export type Client = ReturnType<typeof as>

/** Polls an OData entity until `done(row)` holds; fails with the last row seen after `timeoutMs`. */
export async function waitFor(
  client: Client,
  url: string,
  done: (row: any) => boolean,
  timeoutMs = 20000
): Promise<any> {
  const until = Date.now() + timeoutMs
  let last: AxiosResponse | undefined
  while (Date.now() < until) {
    last = await client.get(url)
    if (last.status === 200 && done(last.data)) return last.data
    await new Promise(r => setTimeout(r, 100))
  }
  throw new Error(`Timed out waiting for ${url}; last answer ${last?.status}: ${JSON.stringify(last?.data)}`)
}

export const stateIs = (...states: string[]) => (row: { state_code: string }) => states.includes(row.state_code)

/** Waits until no operation is pending or running, so a suite ends with the queue at rest. */
export async function settle(client: Client, timeoutMs = 30000) {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    const res = await client.get(`${API}/Operations?$filter=state_code eq 'pending' or state_code eq 'running'&$count=true&$top=0`)
    if (res.status === 200 && res.data['@odata.count'] === 0) return
    await new Promise(r => setTimeout(r, 100))
  }
  throw new Error('Operations did not settle')
}
