/**
 * The Cloud Foundry rate budget of a subaccount: the Cloud Controller counts the requests of each user (here the
 * subaccount's technical user) and answers 429 beyond its limit (2000 per hour by default; `X-RateLimit-Limit`
 * tells). CF calls go through the same budget machinery as Service Manager's (srv/service-manager/budget.ts):
 * kept in the app's database, so every app instance draws on one limit; a sliding log, so CF never sees more
 * than the limit in any window; a 429 (or an answer with `X-RateLimit-Remaining: 0`) pauses every call of the
 * technical user, in every app instance, until `Retry-After` or `X-RateLimit-Reset`; reconciler steps book their
 * turn and come back instead of waiting. CF's limits are not Service Manager's: the budget is one of its own
 * (key `cf:<subaccount GUID>`), and CF calls count nowhere in SM's.
 *
 * Configuration: `cds.requires['cloud-foundry'].limits = { perHour, perMinute, minuteMs, defaultRetryAfterMs,
 * maxPauseMs, inFlightCapMs, pollMs }` (null: no limit at that window), or `false` to switch it off. The
 * defaults are CF's: 2000 per hour, no per-minute limit. Every app instance on one database must use the same.
 */
import { budgetOf, type RateBudget } from '../service-manager/budget'
import { resolveLimits, type LevelLimits, type ResolvedLimits, type ThrottleLimits } from '../service-manager/throttle'
import { requiresEntry } from '../lib/config'

export interface CfLimits extends LevelLimits, Omit<ThrottleLimits, 'all' | 'bindings' | 'offerings' | 'plans' | 'instanceCreates' | 'instanceUpdates'> {}

/** The Cloud Controller's default rate limit per user. */
const CF_LIMITS: Readonly<LevelLimits> = Object.freeze({ perMinute: null, perHour: 2000 })

/** CF limits as the budget's: every CF call is of the class `other`, counted by the level `all` alone. */
function resolveCfLimits(cfg: CfLimits | false | undefined): ResolvedLimits | undefined {
  if (cfg === false) return undefined
  const { perMinute, perHour, ...timing } = cfg ?? {}
  return resolveLimits({
    ...timing,
    all: { perMinute: perMinute === undefined ? CF_LIMITS.perMinute : perMinute, perHour: perHour === undefined ? CF_LIMITS.perHour : perHour },
    bindings: null,
    offerings: null,
    plans: null,
    instanceCreates: null,
    instanceUpdates: null
  })
}

/** `cds.requires['cloud-foundry'].limits`, resolved; undefined when switched off. */
function configuredCfLimits(): ResolvedLimits | undefined {
  const cf = requiresEntry<{ limits?: CfLimits | false }>('cloud-foundry')
  return resolveCfLimits(cf?.limits)
}

/** The CF rate budget of a subaccount's technical user (undefined when switched off). */
export function cfBudgetFor(subaccountId: string): Promise<RateBudget | undefined> {
  return budgetOf(`cf:${subaccountId}`, configuredCfLimits())
}
