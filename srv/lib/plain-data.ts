/**
 * Trees of plain data (arrays, plain objects, strings, numbers, booleans, null), as CQN is made of: a deep
 * copy several times faster than structuredClone for the small trees queries are, and a check that a tree is
 * nothing else.
 */

/** A deep copy of arrays and plain objects (own enumerable properties, in their order); other values as they are. */
export function copyPlain<T>(x: T): T {
  if (Array.isArray(x)) return x.map(copyPlain) as T
  if (x !== null && typeof x === 'object') {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(x)) out[k] = copyPlain((x as Record<string, unknown>)[k])
    return out as T
  }
  return x
}

/**
 * True when `x` is plain data that `copyPlain` copies whole: strings, finite numbers, booleans, null, undefined,
 * arrays of plain data and objects whose prototype is Object's (or none) holding only plain data as own
 * enumerable properties, without accessors; not a class instance, date, buffer, function or symbol.
 */
export function isPlainData(x: unknown, depth = 0): boolean {
  if (depth > 64) return false
  switch (typeof x) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return true
    case 'number':
      return Number.isFinite(x)
    case 'object': {
      if (x === null) return true
      if (Array.isArray(x)) {
        if (Object.getPrototypeOf(x) !== Array.prototype) return false
        for (let i = 0; i < x.length; i++) if (!(i in x) || !isPlainData(x[i], depth + 1)) return false
        return Object.getOwnPropertyNames(x).length === x.length + 1 // the items and `length`, nothing else
      }
      const proto = Object.getPrototypeOf(x) as object | null
      if (proto !== Object.prototype && proto !== null) return false
      const names = Object.getOwnPropertyNames(x)
      if (Object.getOwnPropertySymbols(x).length) return false
      for (const name of names) {
        const d = Object.getOwnPropertyDescriptor(x, name)!
        if (!d.enumerable || !('value' in d) || !isPlainData(d.value, depth + 1)) return false
      }
      return true
    }
    default:
      return false
  }
}
