/** The part of @sap/xsenv (which ships no type declarations) that kind-credentials.ts uses. */
declare module '@sap/xsenv' {
  export interface BoundService {
    name?: string
    label?: string
    credentials?: Record<string, unknown>
  }
  /** The bound services matching the filter (VCAP_SERVICES or mounted service bindings). */
  export function filterServices(filter: { label?: string; tag?: string }): BoundService[]
}
