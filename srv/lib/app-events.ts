/**
 * Listeners of the app's 'served' and 'shutdown' events that may return a promise, which cds awaits:
 * `cds.emit('served')` runs the 'served' listeners one after the other (@sap/cds lib/index.js), and
 * `cds.shutdown()` (cds serve, cds.test) awaits all 'shutdown' listeners before it closes the server
 * (@sap/cds bin/serve.js). So an emulator is up before the first request, and closes or a queue drains
 * before the process ends. @sap/cds types these listeners as returning void, hence the two lint exceptions.
 */
import cds from '@sap/cds'

type Listener = () => void | Promise<unknown>

/** Runs `fn` once, when all services are served. */
export function onServed(fn: Listener): void {
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- awaited at run time (see above)
  cds.once('served', fn)
}

/** Runs `fn` once, when the app shuts down. */
export function onShutdown(fn: Listener): void {
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- awaited at run time (see above)
  cds.once('shutdown', fn)
}
