/**
 * Binding parameters for X.509 service keys, as the xsuaa broker takes them: flat for xsuaa itself, nested
 * under `xsuaa` for services that embed an xsuaa client (seed 000: SAP AI Core).
 */
/** Offerings whose binding parameters carry the xsuaa options at the top level. */
export const FLAT_XSUAA_OFFERINGS = ['xsuaa']

type Json = Record<string, unknown>

export interface X509KeyRequest {
  offeringName: string
  /** own certificate (seed 000); absent: XSUAA generates one */
  certificatePem?: string
  keyLength?: number
  validity?: number
  validityType?: string
  /** the caller's parameters, merged over the defaults */
  parameters?: Json
}

const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v)

export function deepMerge(base: Json, override: Json | undefined): Json {
  if (!override) return base
  const out: Json = { ...base }
  for (const [k, v] of Object.entries(override)) {
    const current = out[k]
    out[k] = isObject(v) && isObject(current) ? deepMerge(current, v) : v
  }
  return out
}

export function x509BindingParameters(req: X509KeyRequest): Json {
  const x509: Json = req.certificatePem
    ? { certificate: req.certificatePem, 'ensure-uniqueness': false, 'certificate-pinning': true, 'hide-certificate': true }
    : { 'key-length': req.keyLength ?? 2048, validity: req.validity ?? 7, 'validity-type': req.validityType ?? 'DAYS' }
  const options: Json = { 'credential-type': 'x509', x509 }
  const flat = FLAT_XSUAA_OFFERINGS.includes(req.offeringName)
  const merged = deepMerge(flat ? options : { xsuaa: options }, req.parameters)
  // the certificate always is the one the key references
  if (req.certificatePem) {
    const target = flat ? merged : merged.xsuaa
    if (isObject(target)) target.x509 = { ...(isObject(target.x509) ? target.x509 : {}), certificate: req.certificatePem }
  }
  return merged
}
