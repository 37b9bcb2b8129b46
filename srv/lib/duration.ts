/**
 * Time spans in the configuration: a number of ms, or a string with a unit (`300ms`, `90s`, `10m`, `1.5h`, `7d`).
 * Not `cds.utils.ms4`: it is untyped, reads `1.5h` as 1 ms and throws for 0.
 */
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 }

const SPAN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?$/

function toMs(value: unknown): number {
  if (typeof value === 'number') return value
  const m = typeof value === 'string' ? SPAN.exec(value.trim()) : null
  return m ? Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 'ms']) : NaN
}

/**
 * A configured time span in ms; `fallback` when not set (undefined, null, ''). Throws, naming `what`, for
 * anything else that is not a span of zero or more.
 */
export function duration(value: unknown, fallback: number, what: string): number {
  if (value === undefined || value === null || value === '') return fallback
  const ms = toMs(value)
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`Invalid ${what}: ${JSON.stringify(value)}`)
  return ms
}
