/**
 * Standalone start: `npx tsx emulator/destination/start.ts`
 * Env: PORT (default 4042, 0 = a free port), EMULATOR_LOG=1, EMULATOR_ADMIN=1 (admin API under /__destination).
 * Prints the URL and the keys' client IDs; never prints secrets.
 */
import { startDestinationEmulator } from './index'

async function main() {
  const port = process.env.PORT === undefined || process.env.PORT === '' ? 4042 : Number(process.env.PORT)
  if (!Number.isInteger(port) || port < 0) throw new Error(`PORT must be a non-negative integer, got '${process.env.PORT}'`)
  const on = (v?: string) => v === '1' || v === 'true'
  const emu = await startDestinationEmulator({ port, log: on(process.env.EMULATOR_LOG), admin: on(process.env.EMULATOR_ADMIN) })
  console.log(`SAP Destination service emulator listening on ${emu.url}`)
  console.log(`  token endpoint: ${emu.url}/oauth/token`)
  for (const k of emu.keys) console.log(`  subaccount ${k.subaccountId}  clientid ${k.clientid}`)
  console.log('  (dev-only client secrets are defined in emulator/destination/index.ts)')
  const stop = () => void emu.close().then(() => process.exit(0))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

main().catch(e => {
  console.error(`destination emulator failed to start: ${e instanceof Error ? e.message : String(e)}`)
  process.exit(1)
})
