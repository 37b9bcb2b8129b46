/**
 * How handlers reach Service Manager: the `service-manager` CAP service (service.ts), whose implementation
 * `cds.requires['service-manager'].kind` picks (`emulator`, `credentials`, `destination`; package.json
 * registers them in `cds.requires.kinds`). This module is the short way to it for the rest of srv/.
 */
import cds from '@sap/cds'
import type { ServiceManagerClient } from './client'
import type { ServiceManagerConfig, ServiceManagerService, SubaccountRef } from './service'
import { requiresEntry } from '../lib/config'

export { ServiceManagerAccessError } from './service'
export type { ServiceManagerConfig, SubaccountRef } from './service'
export { embeddedEmulator } from './kind-emulator'
export type { EmbeddedEmulator } from './kind-emulator'

const KINDS = ['emulator', 'credentials', 'destination']

export function config(): ServiceManagerConfig {
  return requiresEntry<ServiceManagerConfig>('service-manager') ?? { kind: 'emulator' }
}

/** The `service-manager` service of the configured kind. */
export async function smService(): Promise<ServiceManagerService> {
  const cfg = config()
  if (!cfg.impl || !KINDS.includes(cfg.kind))
    throw new Error(`cds.requires['service-manager'].kind must be one of ${KINDS.join(', ')} (got ${String(cfg.kind)})`)
  return (await cds.connect.to('service-manager')) as unknown as ServiceManagerService
}

/** The client of a subaccount (token cache and rate budget included); the only way handlers reach SM. */
export async function clientFor(sub: SubaccountRef): Promise<ServiceManagerClient> {
  return (await smService()).clientFor(sub)
}

/**
 * Extra CA certificate to trust for token endpoints of keys (the emulator's local CA); production uses the
 * system's trusted roots only.
 */
export async function trustedCa(): Promise<string | undefined> {
  return (await smService()).trustedCa()
}
