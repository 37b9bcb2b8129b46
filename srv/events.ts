import cds from '@sap/cds'

/** Topic prefix of our events on a message broker. */
export const TOPIC_PREFIX = 'btp.provisioning'

/**
 * Emits one of ProvisioningService's events: to in-process subscribers of the service, and, where messaging
 * is configured (file-based locally, a broker in production), as `btp.provisioning.<Event>` to other apps.
 * Event data never carries a secret.
 */
export type EventName =
  | 'KeyExpiring'
  | 'CertificateExpiring'
  | 'KeyVerificationFailed'
  | 'AuditLogDegraded'
  | 'InstanceReady'
  | 'KeyReady'
  | 'KeyRotated'
  | 'KeyDeleted'
  | 'ProvisioningFailed'
  | 'RegistrationDangling'
  | 'KeyRotationFailed'
  | 'CertificateRenewalNeeded'

export async function announce(event: EventName, data: Record<string, unknown>) {
  const service = await cds.connect.to('ProvisioningService')
  await service.emit(event, data)
  if (cds.requires.messaging) {
    const messaging = await cds.connect.to('messaging')
    await messaging.emit(`${TOPIC_PREFIX}.${event}`, data)
  }
}
