import cds from '@sap/cds'

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

function ms(value: unknown, fallback: string): number {
  const v = value ?? fallback
  if (typeof v === 'number') return v
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?$/.exec(String(v).trim())
  if (!m) throw new Error(`Invalid duration in cds.provisioning: ${String(v)}`)
  const n = Number(m[1])
  const unit = m[2] ?? 'ms'
  const factor: Record<string, number> = { ms: 1, s: 1000, m: 60000, min: 60000, h: 3600000, d: 86400000 }
  return Math.round(n * factor[unit])
}

export function settings(): ProvisioningSettings {
  const c = (cds.env as unknown as { provisioning?: Record<string, unknown> }).provisioning ?? {}
  return {
    stepDeadlineMs: ms(c.stepDeadline, DEFAULTS.stepDeadline),
    pollSliceMs: ms(c.pollSlice, DEFAULTS.pollSlice),
    pollInitialMs: ms(c.pollInitial, DEFAULTS.pollInitial),
    pollMaxMs: ms(c.pollMax, DEFAULTS.pollMax),
    retryMaxMs: ms(c.retryMax, DEFAULTS.retryMax),
    expiryWarnDays: typeof c.expiryWarnDays === 'number' ? c.expiryWarnDays : 30,
    expiryScanIntervalMs: ms(c.expiryScanInterval, DEFAULTS.expiryScanInterval),
    verifyAfterCreate: c.verifyAfterCreate !== false,
    rotationOverlapMs: ms(c.rotationOverlap, DEFAULTS.rotationOverlap),
    leaseMs: ms(c.lease, DEFAULTS.lease),
    reconcilePollMs: ms(c.reconcilePoll, DEFAULTS.reconcilePoll),
    reconcileConcurrency: typeof c.reconcileConcurrency === 'number' ? c.reconcileConcurrency : 32,
    maxUnexpectedErrors: typeof c.maxUnexpectedErrors === 'number' ? c.maxUnexpectedErrors : 5
  }
}
