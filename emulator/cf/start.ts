/**
 * Standalone start: `npm run emulator:cf`
 * Env: PORT (default 4050, 0 = a free port), CF_EMULATOR_JOB_MS (how long jobs run), CF_EMULATOR_LOG=1,
 * CF_EMULATOR_ADMIN=1 (admin API under /__cf). Prints the API endpoint and the orgs; never prints passwords.
 */
import { startCfEmulator, DEV_CF_USER } from './index'

async function main(): Promise<void> {
  const emu = await startCfEmulator({
    port: Number(process.env.PORT ?? 4050),
    jobMs: Number(process.env.CF_EMULATOR_JOB_MS ?? 0),
    log: process.env.CF_EMULATOR_LOG === '1',
    admin: process.env.CF_EMULATOR_ADMIN === '1'
  })
  console.log(`Cloud Foundry API emulator listening on ${emu.url} (UAA ${emu.uaaUrl}; technical user ${DEV_CF_USER}, password in emulator/cf/index.ts)`)
  for (const o of emu.orgs()) console.log(`  org ${o.name} (${o.guid}): spaces ${emu.spaces(o.guid).map(s => s.name).join(', ')}`)
  const stop = () => void emu.close().then(() => process.exit(0))
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

main().catch(e => {
  console.error(`CF emulator failed to start: ${e instanceof Error ? e.message : String(e)}`)
  process.exit(1)
})
