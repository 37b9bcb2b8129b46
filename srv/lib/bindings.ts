import cds from '@sap/cds'

/**
 * Which service bindings the configured kinds need, and which of them are missing, told once at start-up
 * (before CAP connects to anything), so an operator does not learn it from the first failing request.
 */

const LOG = cds.log('bindings')

export interface BindingCheck {
  /** the `cds.requires` entry */
  service: string
  /** what has to be bound (a Cloud Foundry service label, or the environment variable that may stand in) */
  needs: string
  bound: boolean
  /** what does not work while it is missing */
  effect: string
}

type Requires = Record<string, { kind?: string; vcap?: { label?: string; name?: string }; credentials?: unknown } | false | undefined>

const EFFECTS: Record<string, string> = {
  db: 'the server cannot start',
  auth: 'no user can log in',
  'audit-log': 'credential reads are refused (503 AUDIT_LOG_UNAVAILABLE) and audit records are not delivered',
  messaging: 'events do not reach other applications'
}

function vcapLabels(): Set<string> {
  try {
    return new Set(Object.keys(JSON.parse(process.env.VCAP_SERVICES ?? '{}') as Record<string, unknown>))
  } catch {
    return new Set()
  }
}

/** The bindings of the current profile's kinds: every `cds.requires` entry that CAP fills from a binding. */
export function checkBindings(): BindingCheck[] {
  const requires = cds.env.requires as unknown as Requires
  const checks: BindingCheck[] = []
  for (const [service, cfg] of Object.entries(requires)) {
    if (!cfg || typeof cfg !== 'object' || service === 'kinds' || !cfg.vcap) continue
    const needs = cfg.vcap.label ?? cfg.vcap.name ?? service
    checks.push({ service, needs, bound: cfg.credentials != null, effect: EFFECTS[service] ?? `${service} does not work` })
  }
  const sm = requires['service-manager']
  if (sm && sm.kind === 'destination')
    checks.push({
      service: 'service-manager',
      needs: 'destination (or the environment variable destinations)',
      bound: vcapLabels().has('destination') || !!process.env.destinations,
      effect: "no subaccount's Service Manager can be reached"
    })
  return checks
}

/** Logs the missing bindings (error) and, at info level, the bound ones. */
export function reportBindings(checks = checkBindings()) {
  const missing = checks.filter(c => !c.bound)
  for (const c of missing) LOG.error(`Missing binding for ${c.service}: bind ${c.needs}; until then ${c.effect}`)
  const bound = checks.filter(c => c.bound).map(c => c.service)
  if (bound.length) LOG.info(`Bound: ${bound.join(', ')}`)
  return missing
}
