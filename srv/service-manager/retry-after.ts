/**
 * Retry-After parsing. SM documents an HTTP-date, SAP's operator parses a Go time.String() style
 * timestamp ("2024-11-11 14:59:33 +0000 UTC"), and RFC 9110 also allows delta-seconds. Accept all three.
 */

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
const IMF_FIXDATE = /^[a-z]{3}, (\d{1,2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (?:gmt|utc)$/i
// obsolete RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
const RFC850 = /^[a-z]{6,9}, (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) gmt$/i
// obsolete asctime: "Sun Nov  6 08:49:37 1994" (always UTC)
const ASCTIME = /^[a-z]{3} ([a-z]{3}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i
// Go: "2024-11-11 14:59:33 +0000 UTC", optional fractional seconds, optional zone abbreviation
const GO_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)? ([+-])(\d{2}):?(\d{2})(?: [a-z]{1,5})?$/i

function utc(year: number, monthIdx: number | undefined, day: number, h: number, m: number, s: number): number | undefined {
  if (monthIdx === undefined || day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return undefined
  const t = Date.UTC(year, monthIdx, day, h, m, s)
  return Number.isFinite(t) ? t : undefined
}

function month(name: string): number | undefined {
  return MONTHS[name.toLowerCase()]
}

/** Absolute epoch ms of a date-valued Retry-After, or undefined when the value is not a recognised date. */
function parseDate(v: string): number | undefined {
  let m = IMF_FIXDATE.exec(v)
  if (m) return utc(+m[3], month(m[2]), +m[1], +m[4], +m[5], +m[6])
  m = RFC850.exec(v)
  if (m) {
    const yy = +m[3]
    return utc(yy < 70 ? 2000 + yy : 1900 + yy, month(m[2]), +m[1], +m[4], +m[5], +m[6])
  }
  m = ASCTIME.exec(v)
  if (m) return utc(+m[6], month(m[1]), +m[2], +m[3], +m[4], +m[5])
  m = GO_TIME.exec(v)
  if (m) {
    const base = utc(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])
    if (base === undefined || +m[2] < 1 || +m[2] > 12) return undefined
    const offsetMin = (+m[8] * 60 + +m[9]) * (m[7] === '-' ? -1 : 1)
    return base - offsetMin * 60_000
  }
  return undefined
}

/**
 * Parse a Retry-After header value into a wait in milliseconds.
 * @returns ms to wait (0 for dates in the past), or undefined if absent or unparseable.
 */
export function parseRetryAfter(value: string | undefined | null, now: number = Date.now()): number | undefined {
  if (value === undefined || value === null) return undefined
  const v = String(value).trim()
  if (!v) return undefined
  if (/^\d+$/.test(v)) {
    const seconds = Number(v)
    return Number.isSafeInteger(seconds) ? seconds * 1000 : undefined
  }
  const at = parseDate(v)
  if (at === undefined) return undefined
  return Math.max(0, at - now)
}
