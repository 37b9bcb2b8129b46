import cds from '@sap/cds'
import { duration } from './duration'

/** Durations of the orchestration, from `cds.provisioning` (strings like '20s', '1h' or milliseconds). */
export interface ProvisioningSettings {
  stepDeadlineMs: number
  pollSliceMs: number
  pollInitialMs: number
  pollMaxMs: number
  retryMaxMs: number
  /** keys and certificates expiring within this many days are marked and announced */
  expiryWarnDays: number
  expiryScanIntervalMs: number
  /** fetch a token with every new key right after it is created */
  verifyAfterCreate: boolean
  /** how long a rotated key stays after its successor works */
  rotationOverlapMs: number
  /** how long a reconciler's lease on an object holds without renewal (another process takes over after it) */
  leaseMs: number
  /** how often each process looks for due objects that other processes changed */
  reconcilePollMs: number
  /** objects one process reconciles at the same time */
  reconcileConcurrency: number
  /** unexpected errors (not from Service Manager) after which a step ends Failed instead of being retried */
  maxUnexpectedErrors: number
}

const DEFAULTS = { stepDeadline: '1h', pollSlice: '2s', pollInitial: '200ms', pollMax: '15s', retryMax: '60s', expiryScanInterval: '1h', rotationOverlap: '1h', lease: '6s', reconcilePoll: '1s' }

/** `cds.provisioning.<name>` in ms; its default when not set */
function span(c: Record<string, unknown>, name: keyof typeof DEFAULTS): number {
  return duration(c[name], duration(DEFAULTS[name], 0, name), `cds.provisioning.${name}`)
}

export function settings(): ProvisioningSettings {
  const c = (cds.env as unknown as { provisioning?: Record<string, unknown> }).provisioning ?? {}
  return {
    stepDeadlineMs: span(c, 'stepDeadline'),
    pollSliceMs: span(c, 'pollSlice'),
    pollInitialMs: span(c, 'pollInitial'),
    pollMaxMs: span(c, 'pollMax'),
    retryMaxMs: span(c, 'retryMax'),
    expiryWarnDays: typeof c.expiryWarnDays === 'number' ? c.expiryWarnDays : 30,
    expiryScanIntervalMs: span(c, 'expiryScanInterval'),
    verifyAfterCreate: c.verifyAfterCreate !== false,
    rotationOverlapMs: span(c, 'rotationOverlap'),
    leaseMs: span(c, 'lease'),
    reconcilePollMs: span(c, 'reconcilePoll'),
    reconcileConcurrency: typeof c.reconcileConcurrency === 'number' ? c.reconcileConcurrency : 32,
    maxUnexpectedErrors: typeof c.maxUnexpectedErrors === 'number' ? c.maxUnexpectedErrors : 5
  }
}

/**
 * The `cds.requires` entry `name`, as far as the caller reads it (`T`): @sap/cds types `cds.env.requires`
 * without the entries of this app (service-manager, cloud-foundry, queue, the db's kind), so this is the one
 * place that says what they hold.
 */
export function requiresEntry<T extends object>(name: string): T | undefined {
  return (cds.env.requires as unknown as Record<string, T | undefined>)[name]
}
