/** Labels: validation of create-time label maps and PATCH label operations. */
import { badRequest } from './errors'

export type Labels = Record<string, string[]>

/** Labels SM maintains itself; clients may not set or change them. */
export const PROTECTED_LABELS = ['subaccount_id']

const KEY_RE = /^[A-Za-z0-9._-]{1,100}$/
const OPS = ['add', 'remove', 'add_values', 'remove_values'] as const
type LabelOpName = (typeof OPS)[number]

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || !KEY_RE.test(key)) {
    throw badRequest(`label key '${String(key)}' is invalid: 1-100 characters of letters, digits, '.', '-', '_'`)
  }
  if (PROTECTED_LABELS.includes(key)) throw badRequest(`label '${key}' is protected and cannot be set or modified`)
  return key
}

function checkValues(key: string, values: unknown, required: boolean): string[] | undefined {
  if (values === undefined && !required) return undefined
  if (!Array.isArray(values) || values.length === 0) throw badRequest(`label '${key}' needs a non-empty array of values`)
  for (const v of values) {
    if (typeof v !== 'string' || v === '' || v.length > 255 || /[\r\n]/.test(v)) {
      throw badRequest(`label '${key}' has an invalid value: values are non-empty strings up to 255 characters without newlines`)
    }
  }
  return [...new Set(values as string[])]
}

/** Validate the `labels` map of a create request; undefined -> {}. */
export function validateLabelMap(input: unknown): Labels {
  if (input === undefined || input === null) return {}
  if (typeof input !== 'object' || Array.isArray(input)) throw badRequest('labels must be an object mapping keys to arrays of values')
  const out: Labels = {}
  for (const [key, values] of Object.entries(input as Record<string, unknown>)) {
    out[checkKey(key)] = checkValues(key, values, true) as string[]
  }
  return out
}

/** Apply PATCH label operations atomically: returns the new label map or throws 400 without changes. */
export function applyLabelOps(current: Labels, ops: unknown): Labels {
  if (!Array.isArray(ops)) throw badRequest('labels in a PATCH must be an array of label operations')
  const next: Labels = {}
  for (const [k, v] of Object.entries(current)) next[k] = [...v]
  for (const raw of ops) {
    if (!raw || typeof raw !== 'object') throw badRequest('label operation must be an object')
    const { op, key, values } = raw as { op?: unknown; key?: unknown; values?: unknown }
    if (typeof op !== 'string' || !OPS.includes(op as LabelOpName)) {
      throw badRequest(`label operation '${String(op)}' is not supported (add, remove, add_values, remove_values)`)
    }
    const k = checkKey(key)
    const name = op as LabelOpName
    const vals = checkValues(k, values, name !== 'remove')
    if (name === 'add' || name === 'add_values') {
      const merged = next[k] ?? []
      for (const v of vals!) if (!merged.includes(v)) merged.push(v)
      next[k] = merged
    } else if (vals === undefined) {
      delete next[k]
    } else if (next[k]) {
      next[k] = next[k].filter((v) => !vals.includes(v))
      if (next[k].length === 0) delete next[k]
    }
  }
  return next
}
