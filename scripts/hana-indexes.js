#!/usr/bin/env node
/*
 * Writes db/src/<table>_<name>.hdbindex for every index declared with `@indexes` (db/indexes.cds), so the
 * HANA build (cds build --production) deploys them with the tables (db/src/.hdiconfig names their HDI
 * plugin); removes .hdbindex files no longer declared. `--check` writes nothing and exits 1 when the files
 * are not up to date.
 */
const cds = require('@sap/cds')
const fs = require('node:fs')
const path = require('node:path')
const { hanaIndexes } = require('../db/init')

async function main() {
  const root = path.resolve(__dirname, '..')
  const dir = path.join(root, 'db', 'src')
  const csn = await cds.load(path.join(root, 'db'))
  const wanted = hanaIndexes(csn)
  const present = fs.existsSync(dir) ? fs.readdirSync(dir).filter(f => f.endsWith('.hdbindex')) : []
  const stale = present.filter(f => !(f in wanted))
  const changed = Object.keys(wanted).filter(f => !present.includes(f) || fs.readFileSync(path.join(dir, f), 'utf8') !== wanted[f])
  if (process.argv.includes('--check')) {
    if (stale.length || changed.length) {
      console.error(`db/src is not up to date with @indexes: ${[...changed, ...stale].join(', ')} (run npm run indexes:hana)`)
      process.exit(1)
    }
    return
  }
  fs.mkdirSync(dir, { recursive: true })
  for (const f of stale) fs.rmSync(path.join(dir, f))
  for (const f of changed) fs.writeFileSync(path.join(dir, f), wanted[f])
  console.log(`db/src: ${changed.length} written, ${stale.length} removed, ${Object.keys(wanted).length} indexes`)
}

main().catch(e => {
  console.error(e)
  process.exit(1)
})
