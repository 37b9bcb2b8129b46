/**
 * Service Manager's rate limits (reference 10.4) and the endpoint classes they count, as configured for the
 * rate budget (budget.ts). SM counts per caller: one OAuth client per subaccount here.
 *
 * Levels (all apply together; each may have a per-minute and a per-hour limit):
 *   all              every SM API call                        1000/min, 10000/h
 *   bindings         /v1/service_bindings...                   600/min,  6000/h
 *   offerings        /v1/service_offerings...                  100/min,  1000/h
 *   plans            /v1/service_plans...                      100/min,  1000/h
 *   instanceCreates  POST /v1/service_instances                 50/min
 *   instanceUpdates  PATCH, DELETE /v1/service_instances/{id}  600/min,  6000/h
 *
 * Configuration: `cds.requires['service-manager'].limits`, merged over SM_LIMITS per level and window,
 * e.g. `{ "instanceCreates": { "perMinute": 25 }, "bindings": { "perHour": null } }` (null: no limit at
 * that window), or `false` to switch the budget off. `minuteMs` shortens the minute for tests and
 * benchmarks (an hour is 60 of them). Every app instance on one database must use the same limits.
 */
import { duration } from '../lib/duration'
import { requiresEntry } from '../lib/config'

export type LevelName = 'all' | 'bindings' | 'offerings' | 'plans' | 'instanceCreates' | 'instanceUpdates'
/** Endpoint classes: who queues behind whom, and what a 429 pauses. */
export type ThrottleClass = Exclude<LevelName, 'all'> | 'other'

export interface LevelLimits {
  perMinute?: number | null
  perHour?: number | null
}

export interface ThrottleLimits extends Partial<Record<LevelName, LevelLimits | null>> {
  /** Length of a "minute" in ms (default 60000); tests and benchmarks shorten time with it. */
  minuteMs?: number
  /** Pause after a 429 without a usable Retry-After (default 1000 ms). */
  defaultRetryAfterMs?: number
  /** Longest pause a single Retry-After may cause (default 10 minutes). */
  maxPauseMs?: number
  /** A call that never reports its end counts as ended this long after it started (default 120 s). */
  inFlightCapMs?: number
  /**
   * While the call a waiter waits for still runs (its end is not known yet; it may belong to another app
   * instance), look again this often (default 200 ms).
   */
  pollMs?: number
}

/** SM's documented limits per caller (reference 10.4). */
export const SM_LIMITS: Readonly<Record<LevelName, Readonly<LevelLimits>>> = Object.freeze({
  all: { perMinute: 1000, perHour: 10000 },
  bindings: { perMinute: 600, perHour: 6000 },
  offerings: { perMinute: 100, perHour: 1000 },
  plans: { perMinute: 100, perHour: 1000 },
  instanceCreates: { perMinute: 50 },
  instanceUpdates: { perMinute: 600, perHour: 6000 }
})

const LEVELS = Object.keys(SM_LIMITS) as LevelName[]
export const CLASSES: readonly ThrottleClass[] = ['bindings', 'offerings', 'plans', 'instanceCreates', 'instanceUpdates', 'other']

/** The endpoint class of a call (its most specific level; `other` for calls only `all` counts). */
export function classOf(method: string, path: string): ThrottleClass {
  const p = path.split('?')[0].replace(/\/+$/, '')
  const m = method.toUpperCase()
  if (p === '/v1/service_bindings' || p.startsWith('/v1/service_bindings/')) return 'bindings'
  if (p === '/v1/service_offerings' || p.startsWith('/v1/service_offerings/')) return 'offerings'
  if (p === '/v1/service_plans' || p.startsWith('/v1/service_plans/')) return 'plans'
  if (m === 'POST' && p === '/v1/service_instances') return 'instanceCreates'
  if ((m === 'PATCH' || m === 'DELETE') && /^\/v1\/service_instances\/[^/]+$/.test(p)) return 'instanceUpdates'
  return 'other'
}

/** The levels that count a call of a class. */
export const levelsOf = (cls: ThrottleClass): LevelName[] => (cls === 'other' ? ['all'] : ['all', cls])

// ------------------------------------------------------------------------------------------ config

export interface WindowSpec {
  limit: number
  ms: number
}

export interface ResolvedLimits {
  windows: Record<LevelName, WindowSpec[]>
  defaultRetryAfterMs: number
  maxPauseMs: number
  inFlightCapMs: number
  pollMs: number
}

function count(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null || v === false) return undefined
  const n = typeof v === 'string' && v.trim() ? Number(v) : v
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 1) throw new Error(`Invalid Service Manager limit ${what}: ${JSON.stringify(v)}`)
  return Math.floor(n)
}


/** Merges a `limits` configuration over SM_LIMITS. */
export function resolveLimits(cfg: ThrottleLimits = {}): ResolvedLimits {
  const minute = duration(cfg.minuteMs, 60_000, 'Service Manager limits.minuteMs')
  if (minute <= 0) throw new Error('Invalid Service Manager limits.minuteMs: must be > 0')
  const windows = {} as Record<LevelName, WindowSpec[]>
  for (const level of LEVELS) {
    const given = cfg[level]
    const merged: LevelLimits = given === null ? {} : { ...SM_LIMITS[level], ...(given ?? {}) }
    const specs: WindowSpec[] = []
    const perMinute = count(merged.perMinute, `${level}.perMinute`)
    const perHour = count(merged.perHour, `${level}.perHour`)
    if (perMinute) specs.push({ limit: perMinute, ms: minute })
    if (perHour) specs.push({ limit: perHour, ms: minute * 60 })
    windows[level] = specs
  }
  return {
    windows,
    defaultRetryAfterMs: duration(cfg.defaultRetryAfterMs, 1000, 'Service Manager limits.defaultRetryAfterMs'),
    maxPauseMs: duration(cfg.maxPauseMs, 10 * 60_000, 'Service Manager limits.maxPauseMs'),
    inFlightCapMs: duration(cfg.inFlightCapMs, 120_000, 'Service Manager limits.inFlightCapMs'),
    pollMs: Math.max(1, duration(cfg.pollMs, 200, 'Service Manager limits.pollMs'))
  }
}

// ------------------------------------------------------------------------------------------ configuration

/** `cds.requires['service-manager'].limits`, resolved; undefined when the budget is switched off. */
export function configuredLimits(): ResolvedLimits | undefined {
  const sm = requiresEntry<{ limits?: ThrottleLimits | false }>('service-manager')
  const cfg = sm?.limits
  if (cfg === false) return undefined
  return resolveLimits(cfg ?? {})
}
