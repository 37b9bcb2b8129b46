import axios from 'axios'
import { API, SUB1, users } from '../helpers'
import { serveApp, type Served } from './serve'

/**
 * The crash cases against the app as `npm start` runs it: there, unlike under cds.test, CAP ends the
 * process on a programming error, which is what one request with the body `null` used to cause.
 */

let app: Served
beforeAll(async () => {
  app = await serveApp()
}, 60000)
afterAll(() => app?.stop())

const send = (method: string, resource: string, data: string | undefined, contentType?: string) =>
  axios.request({
    method,
    url: `${app.url}${API}/${resource}`,
    data,
    auth: users.viewer,
    headers: contentType === undefined ? {} : { 'content-type': contentType },
    transformRequest: [d => d],
    validateStatus: () => true
  })

const multipart = (line: string, body: string) =>
  ['--b', 'Content-Type: application/http', 'Content-Transfer-Encoding: binary', '', line, 'Content-Type: application/json', '', body, '--b--', ''].join('\r\n')

const CRASHES: [string, () => ReturnType<typeof send>, string][] = [
  ['null as the body of an instance create, sent by a Viewer', () => send('POST', 'ServiceInstances', 'null', 'application/json'), 'BODY_NOT_OBJECT'],
  ['null as the body of a certificate upload', () => send('POST', 'Certificates', 'null', 'application/json'), 'BODY_NOT_OBJECT'],
  ['null as the body of a PATCH', () => send('PATCH', `Subaccounts(${SUB1})`, 'null', 'application/json'), 'BODY_NOT_OBJECT'],
  ['null as the body of a PUT', () => send('PUT', `Subaccounts(${SUB1})`, 'null', 'application/json'), 'BODY_NOT_OBJECT'],
  [
    'null inside a JSON $batch',
    () => send('POST', '$batch', JSON.stringify({ requests: [{ id: '1', method: 'POST', url: '/ServiceInstances', headers: { 'content-type': 'application/json' }, body: null }] }), 'application/json'),
    'BODY_NOT_OBJECT'
  ],
  ['a JSON $batch that is null', () => send('POST', '$batch', 'null', 'application/json'), 'BODY_NOT_OBJECT'],
  ['a JSON $batch with a null request', () => send('POST', '$batch', '{"requests":[null]}', 'application/json'), 'BATCH_INVALID'],
  ['null inside a multipart $batch', () => send('POST', '$batch', multipart('POST ServiceInstances HTTP/1.1', 'null'), 'multipart/mixed; boundary=b'), 'BODY_NOT_OBJECT'],
  ['a $batch without a content type', () => send('POST', '$batch', undefined), 'BATCH_INVALID']
]

describe('one request never ends the server', () => {
  test.each(CRASHES)('%s: 400 with a message code, and the server goes on', async (_what, request, code) => {
    const res = await request()
    expect({ status: res.status, code: res.data?.error?.code }).toEqual({ status: 400, code })
    const alive = await axios.get(`${app.url}${API}/Subaccounts(${SUB1})?$select=ID`, { auth: users.viewer, validateStatus: () => true })
    expect(alive.status).toBe(200)
    expect(app.exited()).toBe(false)
  })

  test('nothing made the server shut down', () => {
    expect(app.output()).not.toMatch(/server shutdown|Uncaught/)
  })
})
