/**
 * Naming rules from the cockpit procedures: instance and key names are at most 32 characters of letters,
 * digits, '.', '-' and '_' (no spaces), and key names must not look like the keys SAP Cloud ALM creates
 * automatically (`<SID>_<client>_<system number>`, e.g. `ABC_100_00`).
 */
export const MAX_NAME_LENGTH = 32

const NAME = /^[A-Za-z0-9._-]+$/
/** SID: 3 characters (letter first), client: 3 digits, system number: 2 digits. */
const AUTOMATIC_KEY_NAME = /^[A-Za-z][A-Za-z0-9]{2}_\d{3}_\d{2}$/

export function isValidResourceName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= MAX_NAME_LENGTH && NAME.test(name)
}

export function isReservedKeyName(name: string): boolean {
  return AUTOMATIC_KEY_NAME.test(name)
}

/** Parses a JSON text that must hold an object; returns undefined for empty input, throws for anything else. */
export function parseJsonObject(text: unknown): Record<string, unknown> | undefined {
  if (text === undefined || text === null || text === '') return undefined
  let value: unknown = text
  if (typeof text === 'string') {
    try {
      value = JSON.parse(text)
    } catch {
      throw new TypeError('not JSON')
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError('not an object')
  return value as Record<string, unknown>
}

/** How much of a user's value an error message or a log line shows. */
export const ECHO_LENGTH = 100

/** A user's value as messages and logs show it: strings cut to 100 characters, other values as they are. */
export function shown(value: unknown): unknown {
  if (typeof value !== 'string') return value
  return value.length > ECHO_LENGTH ? `${value.slice(0, ECHO_LENGTH)}…` : value
}

/** Limits of `parameters` (instances, keys, templates): configuration for Service Manager, not a data store. */
export const PARAMETERS_MAX_BYTES = 64 * 1024
export const PARAMETERS_MAX_DEPTH = 32

/** Names that hold a secret when they are the whole key name (case-insensitive); secrets belong in Service Manager. */
const SECRET_NAMES = new Set(['password', 'secret', 'clientsecret', 'client_secret', 'privatekey', 'private_key'])

export interface ParametersProblem {
  code: 'PARAMETERS_NOT_OBJECT' | 'PARAMETERS_TOO_LARGE' | 'PARAMETERS_TOO_DEEP' | 'PARAMETERS_SECRET'
  args: unknown[]
}

/** The first name of a secret at any depth (as a path), undefined when there is none; `value` is at most 32 deep. */
function secretPath(value: unknown, path: string): string | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = secretPath(value[i], `${path}[${i}]`)
      if (found) return found
    }
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  for (const [name, inner] of Object.entries(value)) {
    const here = path ? `${path}.${name}` : name
    if (SECRET_NAMES.has(name.toLowerCase())) return here
    const found = secretPath(inner, here)
    if (found) return found
  }
  return undefined
}

/** Whether a JSON value nests deeper than `max` objects or arrays (`{}` is 1 deep); looks no deeper than `max + 1`. */
function deeperThan(value: unknown, max: number): boolean {
  const nested = (v: unknown): v is object => typeof v === 'object' && v !== null
  let level: object[] = nested(value) ? [value] : []
  for (let depth = 1; level.length; depth++) {
    if (depth > max) return true
    level = level.flatMap((v): unknown[] => Object.values(v)).filter(nested)
  }
  return false
}

/**
 * Checks `parameters` as sent (a JSON object, or its text): an object, at most 64 KB serialized, nested at
 * most 32 levels, no key named like a secret. Returns the problem, or the parameters as an object and as JSON
 * text (both `undefined` for empty input).
 */
export function checkParameters(input: unknown): { problem: ParametersProblem } | { value: Record<string, unknown> | undefined; text: string | undefined } {
  if (input === undefined || input === null || input === '') return { value: undefined, text: undefined }
  if (typeof input === 'string' && Buffer.byteLength(input) > PARAMETERS_MAX_BYTES)
    return { problem: { code: 'PARAMETERS_TOO_LARGE', args: [PARAMETERS_MAX_BYTES / 1024] } }
  let value: Record<string, unknown> | undefined
  try {
    value = parseJsonObject(input)
  } catch {
    return { problem: { code: 'PARAMETERS_NOT_OBJECT', args: [] } }
  }
  if (deeperThan(value, PARAMETERS_MAX_DEPTH)) return { problem: { code: 'PARAMETERS_TOO_DEEP', args: [PARAMETERS_MAX_DEPTH] } }
  const text = typeof input === 'string' ? input : JSON.stringify(value)
  if (Buffer.byteLength(text) > PARAMETERS_MAX_BYTES) return { problem: { code: 'PARAMETERS_TOO_LARGE', args: [PARAMETERS_MAX_BYTES / 1024] } }
  const secret = secretPath(value, '')
  if (secret) return { problem: { code: 'PARAMETERS_SECRET', args: [shown(secret)] } }
  return { value, text }
}
