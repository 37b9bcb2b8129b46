/** List responses: max_items / token paging in creation order, as SM does it. */
import { SmError } from './errors'

export const DEFAULT_PAGE_SIZE = 50
export const MAX_PAGE_SIZE = 200

export interface Sequenced<T> {
  seq: number
  item: T
}

export interface ListResult {
  body: { num_items: number; items?: unknown[]; token?: string }
  headers: Record<string, string>
}

function parseMaxItems(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_PAGE_SIZE
  if (!/^\d+$/.test(raw.trim())) {
    throw new SmError(400, 'InvalidMaxItems', `max_items should be a non-negative integer, got '${raw}'`)
  }
  return Math.min(parseInt(raw.trim(), 10), MAX_PAGE_SIZE)
}

export function encodeToken(seq: number): string {
  return Buffer.from(String(seq), 'utf8').toString('base64')
}

function decodeToken(raw: string): number {
  const invalid = () => new SmError(400, 'TokenInvalid', 'provided token is invalid')
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw)) throw invalid()
  const text = Buffer.from(raw, 'base64').toString('utf8')
  if (!/^[1-9]\d{0,15}$/.test(text)) throw invalid()
  return parseInt(text, 10)
}

/**
 * Page through `all` (already filtered, any order) by ascending seq.
 * num_items is the total number of matches; `token` is present only when more items follow.
 */
export function paginate<T>(all: Sequenced<T>[], query: Record<string, string>, path: string): ListResult {
  const maxItems = parseMaxItems(query.max_items)
  const sorted = [...all].sort((a, b) => a.seq - b.seq)
  if (maxItems === 0) return { body: { num_items: sorted.length }, headers: {} }
  let rest = sorted
  if (query.token !== undefined && query.token !== '') {
    const after = decodeToken(query.token)
    rest = sorted.filter((s) => s.seq > after)
  }
  const page = rest.slice(0, maxItems)
  const body: ListResult['body'] = { num_items: sorted.length, items: page.map((p) => p.item) }
  const headers: Record<string, string> = {}
  if (rest.length > page.length) {
    body.token = encodeToken(page[page.length - 1].seq)
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (k !== 'token') params.set(k, v)
    params.set('token', body.token)
    headers.Link = `<${path}?${params.toString()}>; rel="next"`
  }
  return { body, headers }
}
