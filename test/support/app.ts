import cds from '@sap/cds'
import path from 'node:path'
import type { Emulator } from '../../emulator'
import { as, settle, type Client } from '../helpers'

export const ROOT = path.join(__dirname, '..', '..')

export interface AppOptions {
  /**
   * Who waits for the operations to settle at the end (default: admin; false: nobody). Suites with another
   * kind of authentication pass their own client.
   */
  settleAs?: (() => Client) | false
}

/**
 * The app of a suite: the server of this project (cds.test), the mocked users' clients, the embedded Service
 * Manager emulator (when `service-manager` is of kind `emulator`) with its faults cleared after each test, and
 * the queue at rest at the end. Call it at the top level of the suite; what must run before the server starts
 * (env, databases) is declared before the call.
 */
export function useApp(options: AppOptions = {}) {
  const settleAs = options.settleAs ?? (() => admin)
  // declared before cds.test, so it runs before the server stops
  if (settleAs) afterAll(() => settle(settleAs()))
  const app = cds.test(ROOT)
  const client = (user: string) => as(() => app.axios, user)
  const admin = client('admin')

  let emu: Emulator | undefined
  beforeAll(async () => {
    // imported here, not above: a suite may set CDS_CONFIG after its imports, before the app's modules load
    const { config, embeddedEmulator } = await import('../../srv/service-manager/kinds')
    if (config().kind === 'emulator') emu = await embeddedEmulator<Emulator>()
  })
  afterEach(() => emu?.clearFaults())

  const started = () => {
    if (!emu) throw new Error('no embedded Service Manager emulator: it starts before the first test, with kind emulator')
    return emu
  }
  return {
    app,
    /** a client of `user`, a mocked user of .cdsrc.json */
    as: client,
    admin,
    /** the embedded Service Manager emulator; a stand-in until it has started, so a suite can keep it in a const */
    emu: new Proxy({} as Emulator, {
      get: (_, name) => {
        const value: unknown = Reflect.get(started(), name)
        return typeof value === 'function' ? value.bind(started()) : value
      }
    })
  }
}
