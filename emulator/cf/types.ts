/**
 * Public types of the Cloud Foundry v3 API emulator. Re-exported by emulator/cf/index.ts.
 */
import type { JsonDocument } from '../types'

/** A user of the emulator's UAA (password grant), e.g. the technical user of a subaccount's org. */
export interface CfUser {
  username: string
  password: string
  /** default: a name-based GUID */
  guid?: string
}

export type SpaceRoleType = 'space_developer' | 'space_manager' | 'space_auditor' | 'space_supporter'
export type OrgRoleType = 'organization_user' | 'organization_manager' | 'organization_auditor' | 'organization_billing_manager'

export interface CfSpaceSeed {
  name: string
  guid?: string
  /** users (by username) with this role in the space */
  roles?: Partial<Record<SpaceRoleType, string[]>>
}

export interface CfOrgSeed {
  name: string
  guid?: string
  /** the BTP subaccount the org belongs to (how CF-created objects appear in Service Manager) */
  subaccountId?: string
  /** users (by username) with this role in the org; every user with a space role is an organization_user */
  roles?: Partial<Record<OrgRoleType, string[]>>
  spaces: CfSpaceSeed[]
}

export type PlantedObject = { credentials?: Record<string, unknown> } & Record<string, unknown>

/** What the emulator needs of a Service Manager (the SM emulator): CF-created objects appear there too. */
export interface ServiceManagerBackend {
  /** with `wait`, a binding whose credentials are generated asynchronously (X.509) is planted once they exist */
  plant(
    kind: 'instance' | 'binding',
    obj: Record<string, unknown>,
    opts?: { wait?: boolean }
  ): PlantedObject | Promise<PlantedObject>
  remove(kind: 'instance' | 'binding', id: string): void
}

export interface CfEmulatorOptions {
  /** default 0 = a free port; binds 127.0.0.1 */
  port?: number
  /** default: DEFAULT_CF_USERS */
  users?: CfUser[]
  /** default: DEFAULT_CF_ORGS (one org per dev subaccount) */
  orgs?: CfOrgSeed[]
  /** offerings and plans of the marketplace, by name (default: the SM emulator's catalog) */
  catalog?: { name: string; description?: string; plans: { name: string; description?: string }[] }[]
  /** how long a job stays PROCESSING (then POLLING while the broker works, then COMPLETE); default 0 */
  jobMs?: number
  /** lifetime of access tokens in seconds (default 1199, as CF's UAA for the cf client) */
  tokenTtlSeconds?: number
  /** requests per user and window before 429 (default 2000, the CF default per hour) */
  rateLimit?: { limit?: number; windowMs?: number }
  /** where CF-created instances and keys also appear (as the platform's broker proxy does); credentials come from it */
  serviceManager?: ServiceManagerBackend
  /** serve the admin API under /__cf (faults, state, spaces and roles for tests in another process) */
  admin?: boolean
  log?: boolean | ((line: string) => void)
}

/** A guid reference of the v3 API. */
interface CfRelationship {
  data?: { guid?: string }
}

/**
 * What the emulator reads of a v3 create or PATCH body: clients send anything, so every field is checked
 * before it is used.
 */
export interface CfRequestBody {
  type?: unknown
  name?: unknown
  parameters?: unknown
  relationships?: { space?: CfRelationship; service_plan?: CfRelationship; service_instance?: CfRelationship }
  metadata?: { labels?: unknown; annotations?: Record<string, string> }
}

/** A request as the emulator received it (the Authorization header and passwords left out). */
export interface CfRecordedCall {
  method: string
  path: string
  query: Record<string, string>
  body: JsonDocument
  status: number
  at: number
  /** the user the token belonged to */
  user?: string
  fault?: string
}

export interface CfFault {
  method?: string
  /** path without query; a RegExp matches anywhere */
  path?: string | RegExp
  /** how many matching calls it affects (default 1) */
  times?: number
  /** answer this status with a CF error body instead of handling the call */
  status?: number
  /** CF error fields for `status` (default by status) */
  error?: { code?: number; title?: string; detail?: string }
  /** with status 429: X-RateLimit-Reset this many ms from now (default 1000) */
  resetInMs?: number
  /** carry out the call, then destroy the socket without answering (a lost answer) */
  dropResponse?: boolean
  /** the job this call creates ends FAILED with this detail (the object's last operation failed) */
  failJob?: string
  /** the job this call creates stays PROCESSING/POLLING this long */
  jobMs?: number
}

export interface CfOrg {
  guid: string
  name: string
  subaccountId?: string
}
export interface CfSpace {
  guid: string
  name: string
  orgGuid: string
}
export interface CfRole {
  guid: string
  type: SpaceRoleType | OrgRoleType
  userGuid: string
  spaceGuid?: string
  orgGuid?: string
}

export interface LastOperation {
  type: 'create' | 'update' | 'delete'
  state: 'initial' | 'in progress' | 'succeeded' | 'failed'
  description: string
  created_at: string
  updated_at: string
}

export interface CfInstance {
  guid: string
  name: string
  spaceGuid: string
  planGuid: string
  parameters: Record<string, unknown>
  labels: Record<string, string>
  annotations: Record<string, string>
  lastOperation: LastOperation
  createdAt: string
  updatedAt: string
}

export interface CfBinding {
  guid: string
  name: string
  instanceGuid: string
  parameters: Record<string, unknown>
  labels: Record<string, string>
  annotations: Record<string, string>
  credentials?: Record<string, unknown>
  lastOperation: LastOperation
  createdAt: string
  updatedAt: string
}

export interface CfJob {
  guid: string
  operation: string
  state: 'PROCESSING' | 'POLLING' | 'COMPLETE' | 'FAILED'
  errors: { code: number; title: string; detail: string }[]
  warnings: { detail: string }[]
  resource: { type: 'service_instances' | 'service_credential_bindings'; guid: string }
  createdAt: number
  /** when the job is done */
  dueAt: number
  fail?: string
  /** the key's credentials are being issued (an X.509 certificate): the job stays POLLING until they exist */
  issuing?: boolean
  /** an instance update: what changes once the job completes */
  patch?: { parameters?: Record<string, unknown>; planGuid?: string }
}

export interface CfEmulator {
  /** API endpoint (GET / lists the links) */
  url: string
  /** the UAA: token endpoint uaaUrl + '/oauth/token' */
  uaaUrl: string
  users: CfUser[]
  calls: CfRecordedCall[]
  addFault(f: CfFault): void
  clearFaults(): void
  orgs(): CfOrg[]
  spaces(orgGuid?: string): CfSpace[]
  roles(): CfRole[]
  instances(): (CfInstance & { space: string; plan: string; offering: string })[]
  bindings(): CfBinding[]
  jobs(): CfJob[]
  /** a new space in an org (by name or GUID), with roles by username */
  addSpace(org: string, space: CfSpaceSeed): CfSpace
  /** give or take a user's role in a space */
  setSpaceRole(space: string, username: string, type: SpaceRoleType, present: boolean): void
  reset(): void
  close(): Promise<void>
}
