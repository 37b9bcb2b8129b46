import cds from '@sap/cds'
import type { Express } from 'express'
import { guardInstanceAccess } from './lib/instance-auth'

/**
 * Local and test servers listen on the loopback interface only; in production (Cloud Foundry) the server
 * listens where the platform routes to. HOST overrides both.
 */
;(cds as unknown as NodeJS.EventEmitter).on('bootstrap', (app: Express) => {
  const host = process.env.HOST ?? (process.env.NODE_ENV === 'production' ? undefined : '127.0.0.1')
  if (!host) return
  const listen = app.listen.bind(app) as (...args: unknown[]) => ReturnType<Express['listen']>
  app.listen = ((port: number, ...rest: unknown[]) => listen(port, host, ...rest)) as Express['listen']
})

/** Instance-based authorization on inputs and $expand, which CAP leaves out (see lib/instance-auth.ts). */
;(cds as unknown as NodeJS.EventEmitter).on('served', (services: Record<string, cds.Service>) => {
  for (const srv of Object.values(services)) if (srv instanceof cds.ApplicationService) guardInstanceAccess(srv)
})

export default cds.server
