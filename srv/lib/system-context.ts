/**
 * The app's own context, for its background loops (the reconciler, the destination delivery): a timer
 * callback inherits the context of whoever set the timer (Node's async context goes with it), so without
 * this a step would run as the user whose request happened to wake the loop, and what the step writes
 * (`modifiedBy`, events, audit records) would name that user. Users change what is desired; what the loops
 * change is the app's.
 */
import cds from '@sap/cds'

/** The user the app's own changes are made by (`modifiedBy` of what the reconciler writes). */
export const APP_USER = 'service-key-manager'

/** From here on in the current callback: no request's user, tenant, locale or transaction, but the app's. */
export function enterAppContext(): void {
  // a context of its own, not one derived from the current (which would keep the request's transaction)
  const context = new cds.EventContext({ event: 'background' })
  context.user = Object.assign(new cds.User.Privileged(), { id: APP_USER })
  cds.context = context
}
