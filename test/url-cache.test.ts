import cds from '@sap/cds'
import { API, SUB1, SUB2 } from './helpers'
import { useApp } from './support/app'
import { cacheParsedUrls, cacheParsedUrlsAsConfigured, observeUrlCache, uncacheParsedUrls, type UrlCacheEvent } from '../srv/lib/url-cache'
import { copyPlain, isPlainData } from '../srv/lib/plain-data'
import { LIST_REQUESTS } from '../bench/list-requests'

/**
 * Parsed OData URLs kept for reuse (srv/lib/url-cache.ts): a URL asked again is not parsed again, each request
 * gets a query of its own (its handlers add the user's restrictions to it), and the query is the one the
 * parse makes.
 */

const { as, admin } = useApp()

interface Page {
  value: Array<{ ID: string; subaccount_ID?: string }>
  '@odata.count': number
}

const odata = () => (cds as unknown as { odata: { parse: (this: void, url: string, options?: object) => unknown } }).odata
const BASE = '/odata/v4/provisioning'
const provisioning = () => cds.services.ProvisioningService as unknown as { name: string; model: object; isExtensible: boolean }
/** the options the OData adapter parses a request's URL with */
const adapterOptions = () => ({ service: provisioning(), baseUrl: BASE, strict: true, protocol: 'odata' })

/** Records the cache's hits and misses of URLs matching `about` from now on; the returned function stops and tells. */
function record(about: RegExp) {
  const seen: UrlCacheEvent[] = []
  const stop = observeUrlCache(e => {
    if (about.test(e.url)) seen.push(e)
  })
  return () => {
    stop()
    return seen.map(e => e.kind)
  }
}

/** Everything of a query: its prototype, its own properties with their enumerability, and their content. */
function anatomy(q: unknown) {
  const o = q as Record<string, unknown>
  return {
    proto: Object.getPrototypeOf(o) as unknown,
    own: Object.getOwnPropertyNames(o).map(n => ({ n, enumerable: Object.getOwnPropertyDescriptor(o, n)!.enumerable, v: o[n] }))
  }
}

describe('through the OData API', () => {
  test('a list asked again is not parsed again; the same URL answers each user their own rows, whoever asked first', async () => {
    const url = `${API}/ServicePlans?$count=true&$select=ID,name,subaccount_ID&$orderby=name&$top=50&$skip=0`
    // the restricted user first: the restriction their handlers add must not stay with the kept query
    const recorded = record(/^\/ServicePlans\?\$count=true&\$select=ID,name,subaccount_ID&/)
    const rounds: Array<{ viewer: Page; admin: Page }> = []
    for (let round = 0; round < 2; round++) {
      const viewer = await as('viewer-eu10').get(url)
      const all = await admin.get(url)
      expect([viewer.status, all.status]).toEqual([200, 200])
      rounds.push({ viewer: viewer.data as Page, admin: all.data as Page })
    }
    expect(recorded()).toEqual(['miss', 'hit', 'hit', 'hit'])
    const subaccounts = (p: Page) => new Set(p.value.map(r => r.subaccount_ID))
    for (const r of rounds) {
      expect([...subaccounts(r.viewer)]).toEqual([SUB1])
      expect(subaccounts(r.admin)).toEqual(new Set([SUB1, SUB2]))
      expect(r.admin['@odata.count']).toBeGreaterThan(r.viewer['@odata.count'])
    }
    expect(rounds[1]).toEqual(rounds[0])
  })

  test("a property's URL (a query with `_propertyAccess`) is kept and still answers the property", async () => {
    const list = (await admin.get(`${API}/Subaccounts?$select=ID,displayName&$top=1&$orderby=displayName`)).data as { value: Array<{ ID: string; displayName: string }> }
    const [{ ID, displayName }] = list.value
    const recorded = record(/^\/Subaccounts\(.*\)\/displayName$/)
    for (let i = 0; i < 2; i++) {
      const res = await admin.get(`${API}/Subaccounts(${ID})/displayName`)
      expect(res.status).toBe(200)
      expect((res.data as { value: string }).value).toBe(displayName)
    }
    expect(recorded()).toEqual(['miss', 'hit'])
  })

  test('a URL that does not parse is refused every time, and nothing is kept', async () => {
    const recorded = record(/ServiceKeys/)
    for (let i = 0; i < 2; i++) {
      const res = await admin.get(`${API}/ServiceKeys?$filter=${encodeURIComponent('name eq')}`).catch((e: { response: { status: number; data: { error: { message: string } } } }) => e.response)
      expect(res.status).toBe(400)
    }
    expect(recorded()).toEqual([])
  })
})

describe('cds.odata.parse with the cache', () => {
  /** URLs of every shape the apps and other clients send */
  const CORPUS = [
    ...LIST_REQUESTS.map(r => `/${r.entity}?${r.query}`),
    `/Subaccounts(${SUB1})`,
    `/Subaccounts(${SUB1})/displayName`,
    `/Subaccounts(${SUB1})/instances?$top=5&$orderby=name desc`,
    `/Subaccounts/$count`,
    `/ServiceKeys?$filter=${encodeURIComponent("name eq 'x' and expiresAt lt 2030-01-01T00:00:00Z and (verifyStatus eq 200 or verifyStatus eq null) and certificate_ID ne null")}`,
    `/ServiceKeys?$filter=${encodeURIComponent(`contains(name,'key') and subaccount_ID eq ${SUB2}`)}&$select=ID,name`,
    `/ServiceInstances?$search=alm&$expand=${encodeURIComponent('keys($select=ID,name;$filter=state_code eq \'Ready\';$top=2),plan')}`,
    `/ServiceInstances?$apply=${encodeURIComponent('groupby((state_code),aggregate($count as n))')}`,
    `/Certificates?$filter=${encodeURIComponent('daysLeft le 30')}&$orderby=notAfter&$top=3&$skip=1`
  ]

  test('gives a query equal to the one the parse makes, in every part, and a new one each time', () => {
    for (const url of CORPUS) {
      uncacheParsedUrls()
      const parsed = odata().parse(url, adapterOptions())
      cacheParsedUrls()
      const first = odata().parse(url, adapterOptions())
      const second = odata().parse(url, adapterOptions())
      const third = odata().parse(url, adapterOptions())
      for (const q of [first, second, third]) expect({ url, ...anatomy(q) }).toEqual({ url, ...anatomy(parsed) })
      expect(second).not.toBe(third)
      // a handler changing its query changes no other request's
      const kind = Object.keys(second as object)[0]
      const content = (second as Record<string, Record<string, unknown>>)[kind]
      content.where = [{ ref: ['changed'] }, '=', { val: 1 }]
      for (const k of Object.keys(content)) if (Array.isArray(content[k])) (content[k] as unknown[]).push('changed')
      expect(anatomy(odata().parse(url, adapterOptions()))).toEqual(anatomy(parsed))
    }
  })

  test('a tenant with a model of its own gets the queries of its model', () => {
    const url = `/Subaccounts?$select=ID&$top=2`
    const recorded = record(/^\/Subaccounts\?\$select=ID&\$top=2$/)
    odata().parse(url, adapterOptions())
    odata().parse(url, adapterOptions())
    // the same definitions, another model object: as an extension's compiled model would be
    const tenantModel = cds.compile.for.nodejs(JSON.parse(JSON.stringify(cds.model)) as cds.csn.CSN)
    const parent = cds.context
    try {
      cds.context = { model: tenantModel } as unknown as typeof cds.context
      odata().parse(url, adapterOptions())
      odata().parse(url, adapterOptions())
    } finally {
      cds.context = parent
    }
    expect(recorded()).toEqual(['miss', 'hit', 'miss', 'hit'])
  })

  test('other options, other URLs and other services are kept apart', () => {
    const url = `/Subaccounts?$select=ID,region&$top=3`
    const recorded = record(/^\/Subaccounts\?\$select=ID,region&\$top=3$/)
    odata().parse(url, adapterOptions())
    odata().parse(url, { ...adapterOptions(), baseUrl: '/other' })
    odata().parse(url, { ...adapterOptions(), strict: false })
    odata().parse(url, adapterOptions())
    // options the adapter does not pass: parsed every time
    odata().parse(url, { ...adapterOptions(), other: true })
    // no service (no model): parsed every time
    odata().parse(url)
    expect(recorded()).toEqual(['miss', 'miss', 'miss', 'hit'])
  })

  test('cds.provisioning.parsedUrlCache: false leaves the parse as it is; a number sets the entries kept', () => {
    const env = cds.env as unknown as { provisioning: Record<string, unknown> }
    const before = env.provisioning.parsedUrlCache
    const parse = () => odata().parse
    try {
      uncacheParsedUrls()
      const original = parse()
      env.provisioning.parsedUrlCache = false
      expect(cacheParsedUrlsAsConfigured()).toBe(false)
      expect(parse()).toBe(original)

      env.provisioning.parsedUrlCache = 2
      expect(cacheParsedUrlsAsConfigured()).toBe(true)
      expect(parse()).not.toBe(original)
      // installed once
      expect(cacheParsedUrls()).toBe(false)
      const urls = ['/Subaccounts?$top=11', '/Subaccounts?$top=12', '/Subaccounts?$top=13']
      const recorded = record(/^\/Subaccounts\?\$top=1[123]$/)
      for (const u of [...urls, urls[2], urls[0]]) odata().parse(u, adapterOptions())
      // two entries: the first was let go for the third
      expect(recorded()).toEqual(['miss', 'miss', 'miss', 'hit', 'miss'])
      uncacheParsedUrls()
      expect(parse()).toBe(original)
    } finally {
      env.provisioning.parsedUrlCache = before
      uncacheParsedUrls()
      cacheParsedUrlsAsConfigured()
    }
  })
})

describe('plain data', () => {
  test('isPlainData: JSON-like trees only', () => {
    expect(isPlainData({ a: [1, 'x', true, null, undefined, { b: [] }], c: { d: -0.5 } })).toBe(true)
    expect(isPlainData(Object.create(null))).toBe(true)
    for (const x of [new Date(), Buffer.from('x'), () => 1, 1n, NaN, Infinity, Symbol('s'), new Map(), new (class X {})()]) expect(isPlainData({ x })).toBe(false)
    // what a copy would lose
    expect(isPlainData(Object.defineProperty({}, 'hidden', { value: 1, enumerable: false }))).toBe(false)
    expect(isPlainData(Object.defineProperty({}, 'computed', { get: () => 1, enumerable: true }))).toBe(false)
    expect(isPlainData({ [Symbol('s')]: 1 })).toBe(false)
    expect(isPlainData({ __proto__: { inherited: 1 } })).toBe(false)
    const sparse: unknown[] = [1]
    sparse[2] = 3
    expect(isPlainData(sparse)).toBe(false)
    expect(isPlainData(Object.assign([1], { extra: 1 }))).toBe(false)
    // too deep to be a query
    let deep: unknown = 1
    for (let i = 0; i < 100; i++) deep = [deep]
    expect(isPlainData(deep)).toBe(false)
  })

  test('copyPlain: an equal tree that shares nothing', () => {
    const tree = { a: [1, { b: 'x' }], c: { d: null, e: undefined } }
    const copy = copyPlain(tree)
    expect(copy).toStrictEqual(tree)
    expect(Object.keys(copy.c)).toEqual(['d', 'e'])
    copy.a.push(2)
    ;(copy.a[1] as { b: string }).b = 'y'
    expect(tree).toStrictEqual({ a: [1, { b: 'x' }], c: { d: null, e: undefined } })
  })
})
