/**
 * Which API an instance lives in, by its `environment`: `other` (the default) is Service Manager's "Other
 * environment", `cloudfoundry` a space of the subaccount's Cloud Foundry org through the CF v3 API. Other values
 * of the code list (e.g. `kubernetes`) are refused until they are supported.
 */
import type { ServiceInstance } from '#cds-models/btp/provisioning'

const SUPPORTED: NonNullable<ServiceInstance['environment']>[] = ['other', 'cloudfoundry']
export const SUPPORTED_ENVIRONMENTS: string[] = SUPPORTED

export const isCloudFoundry = (row: { environment?: string | null } | undefined) => row?.environment === 'cloudfoundry'
