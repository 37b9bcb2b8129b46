/**
 * Standalone start: `npx tsx emulator/start.ts`
 * Env: PORT (default 4040, 0 = a free port), EMULATOR_OPERATION_MS (EMULATOR_OPERATION_MAX_MS: random up to it),
 * EMULATOR_LATENCY_MS, EMULATOR_LOG=1,
 * EMULATOR_ADMIN=1 (admin API under /__emulator for tests that drive the emulator from another process),
 * EMULATOR_RATE_LIMIT (JSON of the `rateLimit` option, e.g. {"windowMs":2000,"instanceCreatesPerMinute":5}).
 * Prints the URL and the tenants' client ids; never prints secrets.
 */
import { startEmulator, type EmulatorOptions } from './index'

function envInt(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got '${raw}'`)
  return n
}

async function main(): Promise<void> {
  const emulator = await startEmulator({
    port: envInt('PORT', 4040),
    operationMs: envInt('EMULATOR_OPERATION_MS', 0),
    ...(process.env.EMULATOR_OPERATION_MAX_MS ? { operationMaxMs: envInt('EMULATOR_OPERATION_MAX_MS', 0) } : {}),
    requestLatencyMs: envInt('EMULATOR_LATENCY_MS', 0),
    log: process.env.EMULATOR_LOG === '1' || process.env.EMULATOR_LOG === 'true',
    admin: process.env.EMULATOR_ADMIN === '1' || process.env.EMULATOR_ADMIN === 'true',
    ...(process.env.EMULATOR_RATE_LIMIT ? { rateLimit: JSON.parse(process.env.EMULATOR_RATE_LIMIT) as EmulatorOptions['rateLimit'] } : {})
  })
  console.log(`SAP Service Manager emulator listening on ${emulator.url}`)
  console.log(`  token endpoint: ${emulator.url}/oauth/token`)
  console.log(`  mTLS token endpoint (x509 clients): ${emulator.certUrl}/oauth/token (server certificate issued by the emulator's local CA)`)
  for (const t of emulator.tenants) {
    console.log(`  subaccount ${t.subaccountId}  clientid ${t.clientid}  entitled: ${t.entitled.join(', ')}`)
  }
  console.log('  (dev-only client secrets are defined in emulator/catalog.ts, DEFAULT_TENANTS)')
  if (process.env.EMULATOR_ADMIN === '1' || process.env.EMULATOR_ADMIN === 'true') console.log(`  admin API: ${emulator.url}/__emulator`)

  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    void emulator.close().then(() => process.exit(0))
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

main().catch((e) => {
  console.error(`emulator failed to start: ${e instanceof Error ? e.message : String(e)}`)
  process.exit(1)
})
