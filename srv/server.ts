import { readdirSync } from 'node:fs'
import path from 'node:path'
import cds from '@sap/cds'
import express, { type Application, type RequestHandler } from 'express'
import { guardInstanceAccess } from './lib/instance-auth'
import { errorAnswer, requestGuard } from './lib/input-guard'
import { auditRefusedCredentialReads, auditRefusedCredentialRequests, serveHealth, watchAuditDeadLetters } from './lib/audit'
import { reportBindings } from './lib/bindings'
import { guardConsumerApps, technicalUsers } from './lib/technical-users'
import { cacheCompiledQueriesOfDb } from './lib/query-cache'
import { cacheParsedUrlsAsConfigured } from './lib/url-cache'

const LOG = cds.log('server')

/**
 * Local and test servers listen on the loopback interface only; in production (Cloud Foundry) the server
 * listens where the platform routes to. HOST overrides both.
 */
cds.on('bootstrap', app => {
  const host = process.env.HOST ?? (process.env.NODE_ENV === 'production' ? undefined : '127.0.0.1')
  if (!host) return
  // listen's overloads as one signature: the host goes in after the port, whatever follows
  const listen = app.listen.bind(app) as (...args: unknown[]) => ReturnType<Application['listen']>
  app.listen = ((port: number, ...rest: unknown[]) => listen(port, host, ...rest)) as Application['listen']
})

/**
 * Fail closed around the audit log (lib/audit.ts): /health reports dead-lettered audit messages, refused
 * credential reads are audit-logged; missing bindings are told before CAP connects (lib/bindings.ts).
 */
cds.on('bootstrap', app => {
  reportBindings()
  serveHealth(app)
  auditRefusedCredentialRequests(app)
})

/** A PUT to an unknown ID would create the entry under a key the client chose; it answers 404 instead. */
;(cds.env as unknown as { runtime: { put_as_upsert?: boolean } }).runtime.put_as_upsert = false

/**
 * The request guard runs after authentication, in front of every protocol adapter; its error answer runs
 * before CAP's final error handler (see lib/input-guard.ts).
 */
cds.on('bootstrap', () => {
  // cds-types know `before` and request handlers only: `after` holds the error handlers that run before CAP's own
  const middlewares = cds.middlewares as unknown as { add(mw: unknown, o?: { after?: string }): void; after: unknown[] }
  // another application's technical user acts with the subaccounts mapped to it (lib/technical-users.ts)
  middlewares.add(technicalUsers(), { after: 'auth' })
  middlewares.add(requestGuard())
  middlewares.after.unshift(errorAnswer())
})

/**
 * A rejection or exception that escapes a request's handlers (a promise nobody awaited) is logged and the
 * server keeps serving; CAP's own handlers (shut down on programming errors) stay in charge of everything
 * else, start-up included. The request is known from the async context the error was raised in.
 */
function keepServingRequests(event: 'unhandledRejection' | 'uncaughtException') {
  const previous = (process as NodeJS.EventEmitter).listeners(event) as ((e: unknown, ...rest: unknown[]) => void)[]
  if (!previous.length) return
  for (const listener of previous) (process as NodeJS.EventEmitter).removeListener(event, listener)
  ;(process as NodeJS.EventEmitter).on(event, (e: unknown, ...rest: unknown[]) => {
    if ((cds.context as { http?: unknown } | undefined)?.http) {
      LOG.error(`A request's ${event === 'unhandledRejection' ? 'promise failed unobserved' : 'code threw outside its handlers'}; the server goes on:`, e)
      return
    }
    for (const listener of previous) listener(e, ...rest)
  })
}
cds.once('listening', () => {
  keepServingRequests('unhandledRejection')
  keepServingRequests('uncaughtException')
})

/** Instance-based authorization on inputs and $expand, which CAP leaves out (see lib/instance-auth.ts). */
cds.on('served', services => {
  for (const srv of Object.values(services)) if (srv instanceof cds.ApplicationService) guardInstanceAccess(srv)
  for (const srv of Object.values(services)) if (srv instanceof cds.ApplicationService) auditRefusedCredentialReads(srv)
  for (const srv of Object.values(services)) if (srv instanceof cds.ApplicationService) guardConsumerApps(srv)
  watchAuditDeadLetters()
})

/** Compiled reads are reused (lib/query-cache.ts), and so are parsed OData URLs (lib/url-cache.ts). */
cacheCompiledQueriesOfDb()
cds.on('bootstrap', () => cacheParsedUrlsAsConfigured())

/**
 * The Fiori apps and the entry page (app/; the production build stages them in gen/srv/app): CAP's static
 * middleware looks every request up on disk, OData requests included (a file-system call each). Here only
 * the entry page and the top-level entries of app/ are looked up; everything else goes straight on to the
 * services.
 */
function staticApps(folder: string): RequestHandler | undefined {
  let entries: Set<string>
  try {
    entries = new Set(readdirSync(folder))
  } catch {
    return undefined
  }
  const serve: RequestHandler = express.static(folder)
  return (req, res, next) => {
    const first = req.path.split('/')[1] ?? ''
    if (first === '' || entries.has(first)) return serve(req, res, next)
    next()
  }
}

/** cds.server as @sap/cds's types leave it (Function) */
const cdsServer = cds.server as unknown as (options: Record<string, unknown>) => Promise<unknown>

export default (options: Record<string, unknown> = {}) => {
  const folder = path.resolve(cds.root, cds.env.folders.app)
  const apps = options.static === undefined ? staticApps(folder) : undefined
  if (apps) cds.once('bootstrap', app => app.use(apps))
  return cdsServer({ ...options, ...(apps ? { static: false } : {}) })
}
