import type { ServiceKey } from '#cds-models/btp/provisioning'
import { credentialMetadata } from './credentials'
import { certificateStatus } from './certificates'
import { settings } from './config'

/**
 * The ServiceKeys columns that hold a key's credential metadata (never a secret), with the expiry state
 * derived from the certificate's end of validity.
 */
export function credentialMetadataColumns(
  credentials: Record<string, unknown>,
  ownCertificatePem?: string
): Pick<ServiceKey, 'credentialType' | 'clientId' | 'tokenUrl' | 'apiUrl' | 'certFingerprint' | 'expiresAt' | 'expiry_code'> {
  const meta = credentialMetadata(credentials, ownCertificatePem)
  return {
    credentialType: meta.credentialType,
    clientId: meta.clientId ?? null,
    tokenUrl: meta.tokenUrl ?? null,
    apiUrl: meta.apiUrl ?? null,
    certFingerprint: meta.certFingerprint ?? null,
    expiresAt: meta.expiresAt ?? null,
    expiry_code: meta.expiresAt ? certificateStatus(new Date(meta.expiresAt), { warnDays: settings().expiryWarnDays }).status : null
  }
}
