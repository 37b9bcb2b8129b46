#!/usr/bin/env node
/*
 * Stages the Fiori apps' static files into the server's build output, after `cds build --production`:
 *   app/<app>/webapp/**  ->  gen/srv/app/<app>/**   (the path cds-plugin-ui5 serves them at locally)
 *   app/shared/**, app/*.html  ->  gen/srv/app/...
 * In production the CAP server serves gen/srv/app statically, behind the approuter (app/router/xs-app.json).
 * CDS sources, the approuter and package/tooling files are not copied.
 */
const fs = require('node:fs')
const path = require('node:path')

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
