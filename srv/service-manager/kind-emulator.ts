/**
 * Kind `emulator`: the project's Service Manager emulator, started embedded on 127.0.0.1 on first use
 * (development, tests). Each emulator tenant is a subaccount; its client secret is read from the emulator
 * every time credentials are read, so a secret rotated in the emulator is picked up like a real one.
 */
import cds from '@sap/cds'
import { ServiceManagerService, ServiceManagerAccessError, type SubaccountRef } from './service'
import type { SMCredentials } from './credentials'
import { onShutdown } from '../lib/app-events'
import { requiresEntry } from '../lib/config'

/**
 * What this module uses of the SM emulator (emulator/), which `kind: 'emulator'` loads on demand. Its full
 * type (`Emulator` of emulator/) is not imported here: a reference to emulator/, even a type-only one, would
 * compile it into the production build.
 */
export interface EmbeddedEmulator {
  url: string
  caPem?: string
  tenants: { subaccountId: string; clientid: string; clientsecret: string }[]
  close(): Promise<void>
}
/** the emulator's options (emulator/types.ts, EmulatorOptions), passed through as configured */
type EmulatorOptions = Record<string, unknown>
const EMULATOR_MODULE = '../../emulator'

const LOG = cds.log('service-manager')
let emulator: Promise<EmbeddedEmulator> | undefined

/**
 * The embedded emulator, started on first use and stopped with the server. Tests that use more of it name
 * its full type: `const emu: Emulator = await embeddedEmulator()`.
 */
export function embeddedEmulator<E extends EmbeddedEmulator = EmbeddedEmulator>(): Promise<E> {
  emulator ??= (async () => {
    // a module path tsc does not follow: the emulator (development and tests only) stays out of the production build
    const { startEmulator } = (await import(EMULATOR_MODULE)) as { startEmulator: (o: EmulatorOptions) => Promise<EmbeddedEmulator> }
    const sm = requiresEntry<{ emulator?: EmulatorOptions }>('service-manager')
    const emu = await startEmulator(sm?.emulator ?? {})
    LOG.info(`Service Manager emulator listening on ${emu.url}`)
    onShutdown(() => emu.close())
    return emu
  })()
  return emulator as Promise<E>
}

export class EmulatorServiceManager extends ServiceManagerService {
  protected async credentials(sub: SubaccountRef): Promise<SMCredentials> {
    const emu = await embeddedEmulator()
    const tenant = emu.tenants.find(t => t.subaccountId === sub.subaccountId)
    if (!tenant) throw new ServiceManagerAccessError(sub.displayName ?? sub.subaccountId)
    return { sm_url: emu.url, url: emu.url, clientid: tenant.clientid, clientsecret: tenant.clientsecret }
  }

  async trustedCa(): Promise<string | undefined> {
    return (await embeddedEmulator()).caPem
  }
}

export default EmulatorServiceManager
