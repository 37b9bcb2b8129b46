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
