/**
 * Kind `cf-emulator`: the project's Cloud Foundry emulator (emulator/cf/), started embedded on 127.0.0.1 on
 * first use (development, tests). With the Service Manager emulator embedded too, instances and keys created
 * through CF appear in it with the CF platform and keys get their credentials from it. Each subaccount's org
 * is the emulator org of its subaccount GUID unless the Subaccounts row names one (`cfOrg`).
 */
import cds from '@sap/cds'
import { CloudFoundryService, CloudFoundryAccessError, type CfSubaccountRef } from './service'
import type { CfCredentials } from './client'
import { config as smConfig, embeddedEmulator } from '../service-manager/kinds'
import { onShutdown } from '../lib/app-events'
import { requiresEntry } from '../lib/config'

/** What this module uses of the CF emulator (loaded on demand, never part of the production build). */
export interface EmbeddedCfEmulator {
  url: string
  users: { username: string; password: string }[]
  orgs(): { guid: string; name: string; subaccountId?: string }[]
  close(): Promise<void>
}
const EMULATOR_MODULE = '../../emulator/cf'
const LOG = cds.log('cloud-foundry')
let emulator: Promise<EmbeddedCfEmulator> | undefined

/** The embedded CF emulator, started on first use and stopped with the server. */
export function embeddedCfEmulator<E extends EmbeddedCfEmulator = EmbeddedCfEmulator>(): Promise<E> {
  emulator ??= (async () => {
    // loaded by path, so untyped here: what this module uses of it
    const { startCfEmulator } = (await import(EMULATOR_MODULE)) as { startCfEmulator: (o: Record<string, unknown>) => Promise<EmbeddedCfEmulator> }
    // cds.env.requires names no 'cloud-foundry' entry: the part of it read here
    const cf = requiresEntry<{ emulator?: Record<string, unknown> }>('cloud-foundry')
    const serviceManager = smConfig().kind === 'emulator' ? await embeddedEmulator() : undefined
    const emu = await startCfEmulator({ ...(cf?.emulator ?? {}), serviceManager })
    LOG.info(`Cloud Foundry emulator listening on ${emu.url}`)
    onShutdown(() => emu.close())
    return emu
  })()
  return emulator as Promise<E> // E: the emulator's full type, named by the test that asks
}

export class EmulatorCloudFoundry extends CloudFoundryService {
  protected async credentials(sub: CfSubaccountRef): Promise<CfCredentials> {
    const emu = await embeddedCfEmulator()
    const org = emu.orgs().find(o => o.subaccountId === sub.subaccountId)
    const user = emu.users[0]
    if (!user) throw new CloudFoundryAccessError(sub.displayName ?? sub.subaccountId)
    return { api: emu.url, username: user.username, password: user.password, org: org?.name }
  }
}

export default EmulatorCloudFoundry
