/**
 * Admin API of the emulator (option `admin`, standalone: EMULATOR_ADMIN=1): lets another process — a test
 * that runs the app as a child process — inject faults and read the emulator's state. Mounted at
 * /__emulator of the plain HTTP server (127.0.0.1 only), ahead of recording and fault injection, so admin
 * calls never show up in `calls` and never consume a fault. Not part of the SM API; never enable it
 * anywhere but in local tests.
 *
 *   POST   /__emulator/faults   body: a fault or an array of faults (JSON form of Fault; a RegExp path is
 *                               given as `pathRegex`), answers 204
 *   DELETE /__emulator/faults   clears all pending faults, 204
 *   GET    /__emulator/state    { url, certUrl, pendingFaults, instances, bindings, callCount, calls }
 *                               ?calls=false leaves the calls out, ?since=<n> returns calls[n..]
 *   POST   /__emulator/clock    body { advanceMs?: number, reset?: true }: moves the emulator's time (what new
 *                               certificates' validity starts from and presented certificates are checked
 *                               against), answers 200 { offsetMs, now }
 *   POST   /__emulator/reset    empties the store, faults, rate limits and recorded calls, resets the clock, 204
 *   POST   /__emulator/plant    body { kind: 'instance' | 'binding', object }: puts an object into the store as
 *                               if another tool had created it (no call recorded), answers 201 with it
 *   POST   /__emulator/tenants/:subaccountId/rotate   body { secret?, revokeTokens? }: a new client secret for
 *                               the subaccount's SM client (see Emulator.rotateTenantSecret), answers 200
 *                               { clientsecret }
 */
import express, { type Request, type Response } from 'express'
import type { Emulator, Fault } from './types'

/** A fault as JSON: like Fault, with a regular expression path as a string. */
export type AdminFault = Omit<Fault, 'path'> & { path?: string; pathRegex?: string }

function toFault(raw: unknown): Fault {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('a fault must be a JSON object')
  const { pathRegex, ...rest } = raw as AdminFault
  const fault: Fault = { ...rest }
  if (pathRegex !== undefined) {
    if (typeof pathRegex !== 'string') throw new Error('pathRegex must be a string')
    fault.path = new RegExp(pathRegex)
  }
  return fault
}

export function adminRouter(emulator: () => Emulator, pendingFaults: () => number): express.Router {
  const router = express.Router()
  router.use(express.json({ limit: '256kb' }))

  router.post('/faults', (req: Request, res: Response) => {
    let faults: Fault[]
    try {
      faults = (Array.isArray(req.body) ? req.body : [req.body]).map(toFault)
    } catch (e) {
      res.status(400).json({ error: 'BadRequest', description: e instanceof Error ? e.message : String(e) })
      return
    }
    for (const f of faults) emulator().addFault(f)
    res.status(204).end()
  })

  router.delete('/faults', (_req: Request, res: Response) => {
    emulator().clearFaults()
    res.status(204).end()
  })

  router.get('/state', (req: Request, res: Response) => {
    const emu = emulator()
    const since = Math.max(0, Number(req.query.since ?? 0) || 0)
    res.json({
      url: emu.url,
      certUrl: emu.certUrl,
      pendingFaults: pendingFaults(),
      instances: emu.instances(),
      bindings: emu.bindings(),
      callCount: emu.calls.length,
      calls: req.query.calls === 'false' ? undefined : emu.calls.slice(since)
    })
  })

  router.post('/plant', (req: Request, res: Response) => {
    const { kind, object } = (req.body ?? {}) as { kind?: unknown; object?: unknown }
    if ((kind !== 'instance' && kind !== 'binding') || !object || typeof object !== 'object' || Array.isArray(object)) {
      res.status(400).json({ error: 'BadRequest', description: "give kind 'instance' or 'binding' and the object" })
      return
    }
    try {
      res.status(201).json(emulator().plant(kind, object))
    } catch (e) {
      res.status(400).json({ error: 'BadRequest', description: e instanceof Error ? e.message : String(e) })
    }
  })

  router.post('/tenants/:subaccountId/rotate', (req: Request, res: Response) => {
    const { secret, revokeTokens } = (req.body ?? {}) as { secret?: unknown; revokeTokens?: unknown }
    if ((secret !== undefined && typeof secret !== 'string') || (revokeTokens !== undefined && typeof revokeTokens !== 'boolean')) {
      res.status(400).json({ error: 'BadRequest', description: 'secret must be a string, revokeTokens a boolean' })
      return
    }
    try {
      res.json({ clientsecret: emulator().rotateTenantSecret(req.params.subaccountId, { secret, revokeTokens }) })
    } catch (e) {
      res.status(404).json({ error: 'NotFound', description: e instanceof Error ? e.message : String(e) })
    }
  })

  router.post('/clock', (req: Request, res: Response) => {
    const { advanceMs, reset } = (req.body ?? {}) as { advanceMs?: unknown; reset?: unknown }
    if ((advanceMs !== undefined && (typeof advanceMs !== 'number' || !Number.isFinite(advanceMs))) || (reset !== undefined && reset !== true)) {
      res.status(400).json({ error: 'BadRequest', description: 'advanceMs must be a number of milliseconds, reset true' })
      return
    }
    const emu = emulator()
    if (reset) emu.resetClock()
    if (typeof advanceMs === 'number') emu.advanceClock(advanceMs)
    const now = emu.now()
    res.json({ offsetMs: now - Date.now(), now: new Date(now).toISOString() })
  })

  router.post('/reset', (_req: Request, res: Response) => {
    emulator().reset()
    res.status(204).end()
  })

  router.use((req: Request, res: Response) => {
    res.status(404).json({ error: 'NotFound', description: `no admin route for ${req.method} ${req.path}` })
  })
  return router
}
