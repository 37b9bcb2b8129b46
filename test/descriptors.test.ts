import cds from '@sap/cds'
import { execFile, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import YAML from 'yaml'

/**
 * The deployment descriptors: `cds build --production` (as mta.yaml's build runs it) produces what
 * mta.yaml deploys, and xs-security.json matches the roles and attributes of the CDS model.
 */

const ROOT = path.join(__dirname, '..')
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8')
const json = (file: string) => JSON.parse(read(file))

/** CAP's pseudo roles, which are not XSUAA scopes */
const PSEUDO_ROLES = new Set(['any', 'authenticated-user', 'identified-user', 'system-user', 'internal-user'])

interface MtaModule {
  name: string
  type: string
  path: string
  requires?: { name: string; group?: string; properties?: Record<string, unknown> }[]
  provides?: { name: string }[]
  parameters?: Record<string, unknown>
}
interface MtaResource {
  name: string
  /** none: a resource that only holds properties */
  type?: string
  properties?: Record<string, unknown>
  parameters?: { service?: string; 'service-plan'?: string; path?: string; config?: Record<string, unknown> }
}
const mta = YAML.parse(read('mta.yaml')) as {
  ID: string
  modules: MtaModule[]
  resources: MtaResource[]
  'build-parameters': { 'before-all': { builder: string; commands: string[] }[] }
}
const xsSecurity = json('xs-security.json') as {
  scopes: { name: string }[]
  attributes: { name: string; valueRequired?: boolean }[]
  'role-templates': { name: string; 'scope-references': string[]; 'attribute-references'?: (string | { name: string })[] }[]
  'role-collections': { name: string; 'role-template-references': string[] }[]
}
const unprefixed = (scope: string) => scope.replace(/^\$XSAPPNAME\./, '')

describe('cds build --production, as mta.yaml runs it', () => {
  let dir: string
  const built = (...p: string[]) => path.join(dir, ...p)

  beforeAll(async () => {
    // build a copy, so the work tree's gen/ stays as it is
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skm-build-'))
    const skip = new Set(['node_modules', 'gen', '.git', '@cds-models', 'mta_archives', 'coverage', 'test-output'])
    for (const entry of fs.readdirSync(ROOT)) if (!skip.has(entry)) fs.cpSync(path.join(ROOT, entry), built(entry), { recursive: true, filter: src => !src.split(path.sep).includes('node_modules') })
    fs.symlinkSync(path.join(ROOT, 'node_modules'), built('node_modules'), 'dir')
    const env = { ...process.env }
    for (const v of ['NODE_ENV', 'CDS_ENV', 'CDS_TYPESCRIPT', 'JEST_WORKER_ID']) delete env[v]
    // the before-all steps of mta.yaml, except installing (node_modules is linked)
    for (const command of mta['build-parameters']['before-all'].flatMap(b => b.commands)) {
      if (/^npm (ci|install)\b/.test(command)) continue
      await promisify(execFile)('sh', ['-c', command], { cwd: dir, env, timeout: 540_000, maxBuffer: 64 * 1024 * 1024 })
    }
  }, 600_000)

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  test('every module path exists', () => {
    for (const m of mta.modules) expect({ module: m.name, exists: fs.existsSync(built(m.path)) }).toEqual({ module: m.name, exists: true })
  })

  test('gen/srv: the model, the TypeScript handlers compiled to JavaScript, a production package.json', () => {
    expect(fs.existsSync(built('gen/srv/srv/csn.json'))).toBe(true)
    for (const file of ['provisioning-service', 'server', 'orchestrator', 'lib/instance-auth']) {
      expect(fs.existsSync(built(`gen/srv/srv/${file}.js`))).toBe(true)
      expect(fs.existsSync(built(`gen/srv/srv/${file}.ts`))).toBe(false)
    }
    const pkg = JSON.parse(fs.readFileSync(built('gen/srv/package.json'), 'utf8'))
    // the platform's start: the compiled app (the root's own start script runs the TypeScript sources)
    expect(pkg.scripts).toEqual({ start: 'cds-serve' })
    expect(Object.keys(pkg.dependencies)).toEqual(expect.arrayContaining(['@sap/cds', '@sap/xssec', '@cap-js/hana']))
    expect(fs.existsSync(built('gen/srv/@cds-models/ProvisioningService/index.js'))).toBe(true)
  })

  test('the compiled handlers load with the production package layout', () => {
    const script = "for (const f of ['./srv/provisioning-service.js', './srv/orchestrator.js', './srv/lib/instance-auth.js']) require(f)"
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production' }
    delete env.CDS_TYPESCRIPT
    expect(() => execFileSync(process.execPath, ['-e', script], { cwd: built('gen/srv'), env, stdio: 'pipe' })).not.toThrow()
  })

  test('production profile: HANA and XSUAA', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production' }
    delete env.CDS_TYPESCRIPT
    const out = execFileSync(process.execPath, ['-e', "const cds=require('@sap/cds');console.log(JSON.stringify({db:cds.env.requires.db.kind,auth:cds.env.requires.auth.kind}))"], {
      cwd: built('gen/srv'),
      env
    })
    expect(JSON.parse(out.toString())).toEqual({ db: 'hana', auth: 'xsuaa' })
  })

  test('gen/srv/package.json: production dependencies only, pinned to Node 22; its lockfile holds no development package', () => {
    const pkg = JSON.parse(fs.readFileSync(built('gen/srv/package.json'), 'utf8'))
    expect(pkg.devDependencies).toBeUndefined()
    expect(pkg.engines).toEqual({ node: '22' })
    expect(Object.keys(pkg.dependencies)).not.toContain('@cap-js/sqlite')
    const lock = JSON.parse(fs.readFileSync(built('gen/srv/package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> }
    const names = Object.keys(lock.packages)
    for (const dev of ['@sap/cds-dk', '@cap-js/sqlite', 'better-sqlite3', 'jest', 'typescript']) expect(names).not.toContain(`node_modules/${dev}`)
    // the same versions as the project's lockfile
    const root = json('package-lock.json') as { packages: Record<string, { version?: string }> }
    for (const name of names.filter(Boolean)) expect({ name, version: lock.packages[name].version }).toEqual({ name, version: root.packages[name]?.version })
  })

  test('the emulator and the sample data stay out of the build', () => {
    expect(fs.existsSync(built('gen/srv/emulator'))).toBe(false)
    const data = (fs.readdirSync(built('gen/db/src'), { recursive: true }) as string[]).filter(f => /\.(csv|hdbtabledata)$/.test(f)).map(f => path.basename(f))
    expect(data).toEqual(expect.arrayContaining(['btp.provisioning-Templates.csv', 'btp.provisioning-LifecycleStates.csv']))
    expect(data.filter(f => /Subaccounts|ServiceOfferings|ServicePlans/.test(f))).toEqual([])
  })

  test('gen/db: HDI artifacts and the deployer', () => {
    const files = fs.readdirSync(built('gen/db/src/gen'))
    expect(files).toEqual(expect.arrayContaining(['btp.provisioning.ServiceInstances.hdbtable', 'btp.provisioning.ServiceKeys.hdbtable']))
    expect(files.some(f => f.startsWith('ProvisioningService.ServiceKeys.hdbview'))).toBe(true)
    const pkg = JSON.parse(fs.readFileSync(built('gen/db/package.json'), 'utf8'))
    expect(Object.keys(pkg.dependencies)).toContain('@sap/hdi-deploy')
  })

  test('the Fiori apps are staged for the server to serve them', () => {
    expect(fs.existsSync(built('gen/srv/app/index.html'))).toBe(true)
    const apps = fs.readdirSync(path.join(ROOT, 'app')).filter(a => fs.existsSync(path.join(ROOT, 'app', a, 'webapp')))
    expect(apps.length).toBeGreaterThan(0)
    for (const app of apps) expect(fs.existsSync(built('gen/srv/app', app, 'manifest.json'))).toBe(true)
    const staged = fs.readdirSync(built('gen/srv/app'), { recursive: true }) as string[]
    expect(staged.filter(f => f.endsWith('.cds') || f.startsWith('router'))).toEqual([])
  })
})

describe('mta.yaml', () => {
  const resources = new Map(mta.resources.map(r => [r.name, r]))
  const provided = new Set(mta.modules.flatMap(m => (m.provides ?? []).map(p => p.name)))
  const module = (type: string) => mta.modules.find(m => m.type === type)!

  test('every requires names a declared resource or a provided property set', () => {
    for (const m of mta.modules)
      for (const r of m.requires ?? []) expect({ module: m.name, requires: r.name, known: resources.has(r.name) || provided.has(r.name) }).toEqual({ module: m.name, requires: r.name, known: true })
  })

  test('modules: the Node.js server on gen/srv with a health check, the HDI deployer on gen/db, the approuter', () => {
    expect(module('nodejs')).toMatchObject({ path: 'gen/srv', parameters: { 'health-check-type': 'http', 'health-check-http-endpoint': '/health' } })
    expect(module('hdb')).toMatchObject({ path: 'gen/db' })
    expect(module('approuter.nodejs')).toMatchObject({ path: 'app/router' })
    const kinds = (m: MtaModule) => (m.requires ?? []).map(r => resources.get(r.name)?.parameters?.service ?? resources.get(r.name)?.type).filter(Boolean)
    expect(kinds(module('nodejs'))).toEqual(expect.arrayContaining(['xsuaa', 'hana', 'destination']))
    expect(kinds(module('hdb'))).toEqual(['hana'])
    expect(kinds(module('approuter.nodejs'))).toEqual(['xsuaa'])
  })

  test('resources: xsuaa from xs-security.json, per org and space, dedicated; HDI container; destination', () => {
    const xsuaa = mta.resources.find(r => r.parameters?.service === 'xsuaa')!
    expect(xsuaa.parameters).toMatchObject({ 'service-plan': 'application', path: './xs-security.json', config: { 'tenant-mode': 'dedicated' } })
    expect(xsuaa.parameters!.config!.xsappname).toMatch(/\$\{org\}.*\$\{space\}/)
    expect(fs.existsSync(path.join(ROOT, xsuaa.parameters!.path!))).toBe(true)
    expect(mta.resources.find(r => r.parameters?.service === 'hana')!.parameters).toMatchObject({ 'service-plan': 'hdi-shared' })
    expect(mta.resources.find(r => r.parameters?.service === 'destination')!.parameters).toMatchObject({ 'service-plan': 'lite' })
  })

  test('the approuter forwards the user\'s token to the server\'s URL under the destination name xs-app.json uses', () => {
    const dest = module('approuter.nodejs').requires!.find(r => r.group === 'destinations')!
    expect(dest.properties).toMatchObject({ forwardAuthToken: true, url: '~{srv-url}' })
    const xsApp = json('app/router/xs-app.json') as { routes: { destination?: string }[] }
    expect(new Set(xsApp.routes.filter(r => r.destination).map(r => r.destination))).toEqual(new Set([dest.properties!.name, 'ui5']))
  })

  test('the approuter reaches the SAPUI5 CDN as destination ui5, without the user\'s token', () => {
    const ui5 = module('approuter.nodejs').requires!.find(r => r.group === 'destinations' && r.properties?.name === 'ui5')!
    expect(ui5.properties).toMatchObject({ forwardAuthToken: false, url: '~{url}' })
    expect(resources.get(ui5.name)?.properties).toEqual({ url: 'https://ui5.sap.com' })
  })

  test('the server starts after the HDI deployer, with NODE_ENV=production', () => {
    const srv = module('nodejs') as MtaModule & { 'deployed-after'?: string[]; properties?: Record<string, unknown> }
    expect(srv['deployed-after']).toEqual([module('hdb').name])
    expect(srv.properties).toMatchObject({ NODE_ENV: 'production' })
  })

  test('the server is bound to the audit log and to SAP Event Mesh, whose topic rules cover what it publishes', () => {
    const bound = new Map((module('nodejs').requires ?? []).map(r => [resources.get(r.name)?.parameters?.service, resources.get(r.name)]))
    expect(bound.get('auditlog')?.parameters).toMatchObject({ 'service-plan': 'oauth2' })
    const em = bound.get('enterprise-messaging')!
    expect(em.parameters).toMatchObject({ 'service-plan': 'default', path: './event-mesh.json', config: { emname: expect.stringContaining('${space}') } })
    const descriptor = json(em.parameters!.path!) as { namespace: string; rules: { topicRules: { publishFilter: string[] } } }
    expect(descriptor.namespace.split('/')).toHaveLength(3)
    expect(descriptor.rules.topicRules.publishFilter).toContain('${namespace}/*')
    // what CAP publishes in production: <namespace>/btp.provisioning.<Event>
    const messaging = (json('package.json') as { cds: { requires: { messaging: Record<string, { kind?: string; publishPrefix?: string }> } } }).cds.requires.messaging['[production]']
    expect(messaging).toEqual({ kind: 'enterprise-messaging-shared', publishPrefix: '$namespace/' })
  })
})

describe('the production profile', () => {
  let requires: Record<string, { kind?: string; impl?: string; vcap?: { label?: string } } | false | null>

  beforeAll(() => {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production' }
    for (const k of Object.keys(env)) if (/^cds[._]/i.test(k)) delete env[k]
    const out = execFileSync(process.execPath, ['-e', 'process.stdout.write(JSON.stringify(require("@sap/cds").env.requires))'], { cwd: ROOT, env })
    requires = JSON.parse(out.toString())
  })

  test('every service CAP connects to has a kind and an implementation that loads', () => {
    const services = Object.entries(requires).filter(([name, cfg]) => cfg && typeof cfg === 'object' && !['kinds', 'middlewares'].includes(name))
    expect(services.map(([name]) => name)).toEqual(expect.arrayContaining(['db', 'auth', 'messaging', 'audit-log', 'queue', 'service-manager']))
    for (const [name, cfg] of services) {
      const c = cfg as { kind?: string; impl?: string }
      expect({ name, kindOrImpl: typeof (c.kind ?? c.impl) }).toEqual({ name, kindOrImpl: 'string' })
      if (!c.impl) continue
      const impl = c.impl.startsWith('srv/') ? path.join(ROOT, c.impl) : c.impl
      expect({ name, loads: (() => { try { return !!require.resolve(impl, { paths: [ROOT] }) } catch { return false } })() }).toEqual({ name, loads: true })
    }
  })

  test('HANA, XSUAA, the SAP Audit Log service, SAP Event Mesh and SM through destinations, each from its binding', () => {
    const kinds = Object.fromEntries(['db', 'auth', 'audit-log', 'messaging', 'service-manager'].map(n => [n, (requires[n] as { kind: string }).kind]))
    expect(kinds).toEqual({ db: 'hana', auth: 'xsuaa', 'audit-log': 'audit-log-to-restv2', messaging: 'enterprise-messaging-amqp', 'service-manager': 'destination' })
    expect((requires.messaging as { vcap: { label: string } }).vcap.label).toBe('enterprise-messaging')
    expect((requires['audit-log'] as { vcap: { label: string } }).vcap.label).toBe('auditlog')
  })

  test('no mocked users and no sample data', () => {
    expect(JSON.stringify(requires.auth)).not.toMatch(/"users"/)
    expect((requires.db as { data?: string[] }).data ?? []).not.toContain('test/data')
  })
})

describe('xs-security.json', () => {
  const roles = new Set<string>()
  const attributes = new Set<string>()

  beforeAll(async () => {
    const model = cds.linked(await cds.load(path.join(ROOT, 'srv')))
    const collect = (def: Record<string, unknown>) => {
      const requires = def['@requires']
      for (const r of ([] as unknown[]).concat(requires ?? [])) roles.add(String(r))
      for (const rule of (def['@restrict'] ?? []) as { to?: string | string[]; where?: unknown }[]) {
        for (const r of ([] as string[]).concat(rule.to ?? [])) roles.add(r)
        const refs = JSON.stringify(typeof rule.where === 'string' ? cds.parse.expr(rule.where) : rule.where ?? null).matchAll(/"ref":\["\$user","(\w+)"/g)
        for (const [, attr] of refs) attributes.add(attr)
      }
    }
    for (const def of Object.values(model.definitions) as unknown as Record<string, unknown>[]) {
      collect(def)
      for (const action of Object.values((def.actions ?? {}) as Record<string, Record<string, unknown>>)) collect(action)
    }
    for (const r of PSEUDO_ROLES) roles.delete(r)
  })

  test('environment-neutral: the MTA sets xsappname and tenant mode', () => {
    expect(Object.keys(xsSecurity)).not.toContain('xsappname')
    expect(Object.keys(xsSecurity)).not.toContain('tenant-mode')
  })

  test('its scopes are exactly the roles used in @requires / @restrict of the model', () => {
    expect(roles.size).toBeGreaterThan(0)
    expect(xsSecurity.scopes.map(s => unprefixed(s.name)).sort()).toEqual([...roles].sort())
  })

  test('its attributes are exactly the $user attributes of the model, none of them requiring a value', () => {
    expect(xsSecurity.attributes.map(a => a.name).sort()).toEqual([...attributes].sort())
    for (const a of xsSecurity.attributes) expect(a.valueRequired).toBe(false)
  })

  test('role templates reference existing scopes and attributes; every role has a template carrying the attribute', () => {
    const scopes = new Set(xsSecurity.scopes.map(s => s.name))
    const attrs = new Set(xsSecurity.attributes.map(a => a.name))
    for (const t of xsSecurity['role-templates']) {
      for (const s of t['scope-references']) expect(scopes.has(s) ? s : `${t.name} -> unknown scope ${s}`).toBe(s)
      for (const a of t['attribute-references'] ?? []) {
        const name = typeof a === 'string' ? a : a.name
        expect(attrs.has(name) ? name : `${t.name} -> unknown attribute ${name}`).toBe(name)
      }
    }
    for (const role of roles) {
      const template = xsSecurity['role-templates'].find(t => t.name === role)
      expect(template?.['scope-references']).toEqual([`$XSAPPNAME.${role}`])
      expect(template?.['attribute-references']).toEqual([...attributes])
    }
  })

  test('role collections reference existing role templates, and each role is in one', () => {
    const templates = new Set(xsSecurity['role-templates'].map(t => `$XSAPPNAME.${t.name}`))
    const referenced = new Set(xsSecurity['role-collections'].flatMap(c => c['role-template-references']))
    for (const ref of referenced) expect(templates.has(ref) ? ref : `unknown role template ${ref}`).toBe(ref)
    expect([...referenced].sort()).toEqual([...templates].sort())
  })

  test('`cds compile srv --to xsuaa` generates the same scopes and attributes', () => {
    const env = { ...process.env }
    delete env.NODE_ENV
    const out = execFileSync(path.join(ROOT, 'node_modules/.bin/cds'), ['compile', 'srv', '--to', 'xsuaa'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'ignore'] })
    const generated = JSON.parse(out.toString().slice(out.toString().indexOf('{'))) as typeof xsSecurity
    expect(generated.scopes.map(s => s.name).sort()).toEqual(xsSecurity.scopes.map(s => s.name).sort())
    expect(generated.attributes.map(a => a.name).sort()).toEqual(xsSecurity.attributes.map(a => a.name).sort())
  })

  test('the mocked users use only these roles', () => {
    const cdsrc = json('.cdsrc.json') as { requires: { auth: Record<string, { users?: Record<string, { roles?: string[] } | boolean> }> } }
    const scopes = new Set(xsSecurity.scopes.map(s => unprefixed(s.name)))
    // the development profile's users: cds applies that profile in the test profile too
    const users = Object.values(cdsrc.requires.auth['[development]'].users ?? {})
    for (const u of users) if (typeof u === 'object') for (const r of u.roles ?? []) expect(scopes.has(r) ? r : `unknown role ${r}`).toBe(r)
    expect(cdsrc.requires.auth['[test]']).toBeUndefined()
  })
})

describe('app/router', () => {
  const xsApp = json('app/router/xs-app.json') as {
    authenticationMethod: string
    routes: { source: string; authenticationType: string; destination?: string; csrfProtection?: boolean }[]
    responseHeaders: { name: string; value: string }[]
  }
  const routeFor = (url: string) => xsApp.routes.find(r => new RegExp(r.source).test(url))

  test('the approuter is a dependency with a start script', () => {
    const pkg = json('app/router/package.json')
    expect(Object.keys(pkg.dependencies)).toEqual(['@sap/approuter'])
    expect(pkg.scripts.start).toMatch(/approuter/)
  })

  test.each(['/odata/v4/provisioning/ServiceKeys', '/odata/v4/provisioning/$batch', '/index.html', '/certificates/index.html', '/shared/Credentials.js'])(
    '%s is routed to the server, behind an XSUAA login',
    url => {
      expect(xsApp.authenticationMethod).toBe('route')
      expect(routeFor(url)).toMatchObject({ destination: 'srv-api', authenticationType: 'xsuaa' })
    }
  )

  test('the SAPUI5 runtime comes from the CDN in the version the apps are developed with, without a login', () => {
    const version = (YAML.parseAllDocuments(read('app/ui5/ui5.yaml'))[0].toJSON() as { framework: { version: string } }).framework.version
    const route = routeFor('/ui5/resources/sap-ui-core.js') as { destination?: string; authenticationType: string; target?: string }
    expect(route).toMatchObject({ destination: 'ui5', authenticationType: 'none', target: `/${version}/resources/$1` })
    // every app bootstraps from there
    for (const app of ['subaccounts', 'serviceinstances', 'servicekeys', 'certificates'])
      expect(read(`app/${app}/webapp/index.html`)).toContain('src="../ui5/resources/sap-ui-core.js"')
  })

  test('modifying requests carry a CSRF token', () => {
    expect(routeFor('/odata/v4/provisioning/ServiceInstances')?.csrfProtection).toBe(true)
  })

  test('security headers', () => {
    const headers = Object.fromEntries(xsApp.responseHeaders.map(h => [h.name, h.value]))
    expect(headers['Content-Security-Policy']).toMatch(/frame-ancestors 'self'/)
    expect(headers['Content-Security-Policy']).toMatch(/object-src 'none'/)
    expect(headers['X-Frame-Options']).toBe('SAMEORIGIN')
    expect(headers['X-Content-Type-Options']).toBe('nosniff')
    expect(headers['Strict-Transport-Security']).toMatch(/max-age=\d+/)
  })

  test('a reproducible approuter: exact versions, a committed lockfile, Node 22', () => {
    const pkg = json('app/router/package.json') as { dependencies: Record<string, string>; engines: { node: string } }
    const lock = json('app/router/package-lock.json') as { lockfileVersion: number; packages: Record<string, { version: string }> }
    for (const [name, version] of Object.entries(pkg.dependencies)) {
      expect({ name, version }).toEqual({ name, version: expect.stringMatching(/^\d+\.\d+\.\d+$/) })
      expect(lock.packages[`node_modules/${name}`]?.version).toBe(version)
    }
    expect(lock.lockfileVersion).toBe(3)
    expect(pkg.engines.node).toMatch(/\^22/)
  })

  test('logout: POST only with a CSRF token, ending on a public page the approuter serves itself', () => {
    const logout = (xsApp as unknown as { logout: { logoutEndpoint: string; logoutMethod: string; csrfProtection?: boolean; logoutPage: string } }).logout
    expect(logout).toMatchObject({ logoutEndpoint: '/do/logout', logoutMethod: 'POST' })
    expect(logout.csrfProtection).not.toBe(false)
    const page = routeFor(logout.logoutPage) as { authenticationType: string; localDir?: string; destination?: string }
    expect(page).toMatchObject({ authenticationType: 'none', localDir: 'resources' })
    expect(page.destination).toBeUndefined()
    expect(read(`app/router/resources${logout.logoutPage}`)).toContain('logged out')
    // nothing else is public but the SAPUI5 runtime
    expect(xsApp.routes.filter(r => r.authenticationType === 'none').map(r => r.source).sort()).toEqual([routeFor(logout.logoutPage)!.source, routeFor('/ui5/resources/x.js')!.source].sort())
  })

  test('the entry page offers a logout, which posts to the logout endpoint', () => {
    const index = read('app/index.html')
    expect(index).toMatch(/<button[^>]*data-logout/)
    expect(index).toContain('src="shared/Logout.js"')
    const script = read('app/shared/Logout.js')
    expect(script).toContain('"/do/logout"')
    expect(script).toMatch(/method: "POST"/)
  })

  test.each(['subaccounts', 'serviceinstances', 'servicekeys', 'certificates'])('the %s app has a logout in its list page header', app => {
    const manifest = json(`app/${app}/webapp/manifest.json`) as { 'sap.ui5': { routing: { targets: Record<string, { name: string; options: { settings: { content?: { header?: { actions?: Record<string, { press: string; text: string }> } } } } }> } } }
    const list = Object.values(manifest['sap.ui5'].routing.targets).find(t => t.name === 'sap.fe.templates.ListReport')!
    expect(list.options.settings.content?.header?.actions?.logout).toEqual({ press: 'btp.provisioning.shared.Logout.press', text: '{i18n>logout}' })
    expect(read(`app/${app}/webapp/i18n/i18n.properties`)).toMatch(/^logout=/m)
    expect(read(`app/${app}/webapp/index.html`)).toContain('"btp.provisioning.shared": "../shared/"')
  })
})
