import cds from '@sap/cds'
import type { Request, Service } from '@sap/cds'
import type { Application, Request as HttpRequest, Response as HttpResponse, NextFunction } from 'express'
import { announce } from '../events'
import { requiresEntry } from './config'

/**
 * The audit log fails closed (@cap-js/audit-logging, `cds.requires['audit-log']`):
 * - a credential read is written to the audit log before the credentials leave, directly rather than through
 *   the queue: when the audit log cannot take the record, the read is refused (503 AUDIT_LOG_UNAVAILABLE);
 * - refused attempts to read credentials (no login, missing role, key out of the user's subaccounts,
 *   unknown key) are audit-logged as security events (through the queue: the refusal stands either way);
 * - audit messages the queue gave up on (dead letters) make `/health` answer `DEGRADED` and raise the event
 *   `AuditLogDegraded`, once per new dead letter.
 */

const LOG = cds.log('audit')
const CREDENTIAL_READS = new Set(['revealCredentials', 'downloadCredentials'])
const REFUSED = new Set([401, 403, 404])
/** how long a dead-letter count is reused by /health and the periodic check */
const CHECK_TTL_MS = 5_000
const CHECK_INTERVAL_MS = 60_000

export class AuditLogUnavailable extends Error {
  constructor(readonly reason: string) {
    super(`The audit log cannot take records: ${reason}`)
  }
}

type AuditService = Service & { send(event: string, data: object): Promise<unknown> }

async function auditLog(): Promise<AuditService> {
  return cds.connect.to('audit-log')
}

/**
 * Writes one audit record now, not through the queue, and answers only once the audit log took it. A missing
 * or broken binding, an unreachable or refusing audit log: AuditLogUnavailable (the cause goes to the log, not
 * to the caller).
 */
export async function writeAuditRecord(event: string, data: object): Promise<void> {
  try {
    const audit = await auditLog()
    const direct = (cds as unknown as { unqueued(s: Service): AuditService }).unqueued(audit)
    await direct.send(event, data)
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e)
    LOG.error(`Audit log did not take a ${event} record: ${reason}`)
    throw new AuditLogUnavailable(reason)
  }
}

/** writeAuditRecord for a request: 503 AUDIT_LOG_UNAVAILABLE when the audit log cannot take the record. */
export async function auditOrRefuse(req: Request, event: string, data: object): Promise<void> {
  try {
    await writeAuditRecord(event, data)
  } catch (e) {
    // $sanitize: false keeps the code in production, where CAP replaces 5xx errors by a generic one
    if (e instanceof AuditLogUnavailable) return void req.reject({ status: 503, message: 'AUDIT_LOG_UNAVAILABLE', $sanitize: false } as { status: number; message: string })
    throw e
  }
}

// ---- refused credential reads as security events ------------------------------------------------------

interface Refusal {
  action: string
  status: number
  code?: string
  key?: string
  user?: string
  ip?: string
}

const LOGGED = Symbol('credential read refusal audit-logged')

/**
 * Queues a SecurityEvent in a transaction of its own (the refused request's is rolled back), so the record is
 * kept whatever happens to the request. Only identifiers and the outcome: never request bodies or secrets.
 */
function logRefusal(r: Refusal) {
  const data = { data: { event: 'credential-read-refused', ...r }, ...(r.ip ? { ip: r.ip } : {}) }
  cds
    .tx({ user: new cds.User(r.user ?? 'anonymous') }, async () => {
      await (await auditLog()).emit('SecurityEvent', data)
    })
    .catch(e => LOG.error('Could not queue the security event of a refused credential read', e instanceof Error ? e.message : e))
}

const statusOf = (e: unknown): number | undefined => {
  const err = e as { status?: number; statusCode?: number; code?: number | string }
  return err?.status ?? err?.statusCode ?? (typeof err?.code === 'number' ? err.code : Number(err?.code) || undefined)
}

const keyIdOf = (req: Request): string | undefined => {
  const p = req.params?.at(-1) as Record<string, unknown> | string | undefined
  return typeof p === 'object' ? (p?.ID as string | undefined) : p
}

/**
 * Security events for refused reveal and download attempts inside the service (missing CredentialReader
 * role, key out of the user's subaccounts, unknown key), `$batch` included: wraps the service's `handle`,
 * through which every request passes after authentication.
 */
export function auditRefusedCredentialReads(service: Service) {
  // srv.handle(req) is CAP's documented point where every request meets its handlers
  type Handle = (this: unknown, req: Request) => Promise<unknown>
  const srv = service as unknown as { handle: Handle }
  const handle = srv.handle
  // called on the service's transactions too (objects derived from it): `this` is the one it is called on
  srv.handle = async function (this: unknown, req: Request) {
    try {
      return await handle.call(this, req)
    } catch (e) {
      const status = statusOf(e)
      if (CREDENTIAL_READS.has(req.event) && status !== undefined && REFUSED.has(status)) {
        const res = req.http?.res as (HttpResponse & { [LOGGED]?: boolean }) | undefined
        if (res) res[LOGGED] = true
        logRefusal({
          action: req.event,
          status,
          code: (e as { message?: string }).message?.slice(0, 100),
          key: keyIdOf(req)?.slice(0, 100),
          user: req.user?.id,
          ip: req.http?.req?.ip
        })
      }
      throw e
    }
  }
}

/**
 * The refusals that happen before the service sees the request (no or invalid token: 401; none of the
 * service's roles: 403), for credential-read URLs; registered on the express app at bootstrap.
 */
export function auditRefusedCredentialRequests(app: Application) {
  app.use((req: HttpRequest, res: HttpResponse & { [LOGGED]?: boolean }, next: NextFunction) => {
    const action = /\/(revealCredentials|downloadCredentials)(?:\(|\?|$)/.exec(req.path)?.[1]
    if (action)
      res.on('finish', () => {
        if (!REFUSED.has(res.statusCode) || res[LOGGED] || res.statusCode === 404) return
        logRefusal({ action, status: res.statusCode, key: /\(([^)]{1,100})\)/.exec(req.path)?.[1], ip: req.ip })
      })
    next()
  })
}

// ---- dead letters: /health and the AuditLogDegraded event ---------------------------------------------

export interface AuditHealth {
  status: 'UP' | 'DEGRADED'
  /** dead-lettered audit messages, or the check could not be made (database unreachable) */
  auditLog?: { deadLetters: number } | { check: 'failed' }
}

let cached: { at: number; deadLetters: number } | undefined
let reported = 0

function maxAttempts(): number {
  const queue = requiresEntry<{ maxAttempts?: number }>('queue')
  return queue?.maxAttempts ?? 20
}

/** Audit messages the queue stopped retrying (attempts used up or an unrecoverable answer). */
export async function countAuditDeadLetters(): Promise<number> {
  if (!cds.db || !cds.model?.definitions['cds.outbox.Messages']) return 0
  const row = (await cds.tx(() =>
    SELECT.one`count(*) as count`.from('cds.outbox.Messages').where`msg like ${'%"service":"audit-log"%'} and attempts >= ${maxAttempts()}`
  )) as { count: number | string } | undefined
  return Number(row?.count ?? 0)
}

/**
 * The audit log's part of the health: DEGRADED while dead-lettered audit messages exist. Raises
 * AuditLogDegraded when their number grew since the last check of this process.
 */
export async function auditHealth(): Promise<AuditHealth> {
  if (!cached || Date.now() - cached.at > CHECK_TTL_MS) {
    try {
      cached = { at: Date.now(), deadLetters: await countAuditDeadLetters() }
    } catch (e) {
      LOG.warn('Audit dead-letter check failed', e instanceof Error ? e.message : e)
      return { status: 'DEGRADED', auditLog: { check: 'failed' } }
    }
  }
  const { deadLetters } = cached
  if (deadLetters > reported) {
    reported = deadLetters
    LOG.error(`Audit log degraded: ${deadLetters} audit message(s) could not be delivered and were given up`)
    // raised by the app itself, not by whoever asked /health
    await cds.tx({ user: new cds.User.Privileged() }, () => announce('AuditLogDegraded', { deadLetters, detectedAt: new Date().toISOString() })).catch(e =>
      LOG.error('Could not raise AuditLogDegraded', e instanceof Error ? e.message : e)
    )
  } else if (deadLetters < reported) reported = deadLetters
  return deadLetters ? { status: 'DEGRADED', auditLog: { deadLetters } } : { status: 'UP' }
}

/**
 * `/health`: 200 with `{ status: 'UP' }`, or `{ status: 'DEGRADED', auditLog: ... }` (still 200: the process
 * serves requests, and a restart would not bring the audit log back). Registered at bootstrap, before CAP's own.
 */
export function serveHealth(app: Application) {
  app.get('/health', (_req: HttpRequest, res: HttpResponse, next: NextFunction) => {
    auditHealth().then(health => res.status(200).json(health), next)
  })
}

/** Checks for dead letters now and then, so the event is raised even when nobody asks /health. */
export function watchAuditDeadLetters() {
  const timer = setInterval(() => {
    auditHealth().catch(e => LOG.warn('Audit dead-letter check failed', e instanceof Error ? e.message : e))
  }, CHECK_INTERVAL_MS).unref()
  cds.once('shutdown', () => clearInterval(timer))
}
