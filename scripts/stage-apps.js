#!/usr/bin/env node
/*
 * Completes the server's build output after `cds build --production`:
 * 1. Stages the Fiori apps' static files:
 *      app/<app>/webapp/**  ->  gen/srv/app/<app>/**   (the path cds-plugin-ui5 serves them at locally)
 *      app/shared/**, app/*.html  ->  gen/srv/app/...
 *    In production the CAP server serves gen/srv/app statically, behind the approuter (app/router/xs-app.json).
 *    CDS sources, the approuter and package/tooling files are not copied.
 * 2. Leaves gen/srv/package.json with production dependencies only and the start script `cds-serve` (the
 *    project's own `npm start` runs the TypeScript sources), and prunes gen/srv/package-lock.json to
 *    match (the versions of what stays are those of the project's lockfile): `npm ci` on Cloud Foundry then
 *    installs no build or test tooling, not even what a production package names as an optional peer
 *    (@cap-js/postgres -> @sap/cds-dk).
 */
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.resolve(__dirname, '..')
const from = path.join(root, 'app')
const to = path.join(root, 'gen', 'srv', 'app')
const SKIP = new Set(['router', 'node_modules'])

if (!fs.existsSync(path.join(root, 'gen', 'srv'))) {
  console.error('gen/srv is missing: run `cds build --production` first')
  process.exit(1)
}
fs.rmSync(to, { recursive: true, force: true })
let copied = 0
const copy = (src, dest) => {
  fs.cpSync(src, dest, { recursive: true, filter: f => !f.endsWith('.cds') })
  copied++
}
for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
  const src = path.join(from, entry.name)
  if (entry.isFile() && entry.name.endsWith('.html')) copy(src, path.join(to, entry.name))
  if (!entry.isDirectory() || SKIP.has(entry.name)) continue
  const webapp = path.join(src, 'webapp')
  if (fs.existsSync(webapp)) copy(webapp, path.join(to, entry.name))
  else if (fs.readdirSync(src).some(f => !f.endsWith('.cds'))) copy(src, path.join(to, entry.name))
}
console.log(`staged ${copied} app folder(s) and page(s) into ${path.relative(root, to)}`)

const srv = path.join(root, 'gen', 'srv')
const pkgFile = path.join(srv, 'package.json')
const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'))
const dropped = Object.keys(pkg.devDependencies ?? {}).length
delete pkg.devDependencies
// the platform starts the compiled app: `npm start` is cds-serve, the project's development scripts stay behind
pkg.scripts = { start: 'cds-serve' }
fs.writeFileSync(pkgFile, JSON.stringify(pkg, null, 2) + '\n')
if (fs.existsSync(path.join(srv, 'package-lock.json')))
  execFileSync('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: srv, stdio: ['ignore', 'ignore', 'inherit'] })
console.log(`gen/srv/package.json: ${Object.keys(pkg.dependencies ?? {}).length} production dependencies, ${dropped} development dependencies dropped; lockfile pruned`)
