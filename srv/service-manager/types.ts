/** Resource shapes and client options of the Service Manager client. */
import type { Criterion } from './query'
import type { SMCredentials } from './credentials'

export type SMLabels = Record<string, string[]>

export interface SMOperation {
  id: string
  /** create | update | delete — hosted SM uses upper case; compare case-insensitively. */
  type: string
  /** `in progress` (with a space), `pending` (treated like it), `succeeded`, `failed`; compare case-insensitively */
  state: string
  description?: string
  resource_id?: string
  resource_type?: string
  platform_id?: string
  correlation_id?: string
  reschedule?: boolean
  reschedule_timestamp?: string
  deletion_scheduled?: string
  /** Object, array of objects, or absent; see `operationErrorOf` in the client. */
  errors?: unknown
  labels?: SMLabels
  transitive_resources?: Array<{ id?: string; type?: string; operation_type?: string; criteria?: unknown }>
  ready?: boolean
  created_at?: string
  updated_at?: string
}

export interface SMOffering {
  id: string
  name: string
  description?: string
  catalog_id?: string
  catalog_name?: string
  broker_id?: string
  bindable?: boolean
  instances_retrievable?: boolean
  bindings_retrievable?: boolean
  plan_updateable?: boolean
  allow_context_updates?: boolean
  tags?: string[]
  metadata?: Record<string, unknown>
  ready?: boolean
  created_at?: string
  updated_at?: string
  labels?: SMLabels
  /** hosted multi data-center landscapes */
  data_center?: string
}

export interface SMPlan {
  id: string
  name: string
  description?: string
  catalog_id?: string
  catalog_name?: string
  free?: boolean
  bindable?: boolean
  plan_updateable?: boolean
  maximum_polling_duration?: number
  service_offering_id: string
  metadata?: Record<string, unknown>
  schemas?: Record<string, unknown>
  ready?: boolean
  created_at?: string
  updated_at?: string
  labels?: SMLabels
}

export interface SMInstance {
  id: string
  name: string
  service_plan_id: string
  platform_id?: string
  context?: Record<string, unknown>
  dashboard_url?: string
  maintenance_info?: Record<string, unknown>
  referenced_instance_id?: string
  shared?: boolean
  ready?: boolean
  usable?: boolean
  labels?: SMLabels
  created_at?: string
  updated_at?: string
  last_operation?: SMOperation
  /** present in some hosted views; otherwise read labels.subaccount_id[0] or context.subaccount_id */
  subaccount_id?: string
}

export interface SMBinding {
  id: string
  name: string
  service_instance_id: string
  /** The broker's opaque credentials. Secret: never log. */
  credentials?: Record<string, unknown>
  context?: Record<string, unknown>
  bind_resource?: Record<string, unknown>
  labels?: SMLabels
  ready?: boolean
  created_at?: string
  updated_at?: string
  last_operation?: SMOperation
  syslog_drain_url?: string
  route_service_url?: string
  volume_mounts?: unknown[]
  endpoints?: unknown[]
}

/** A PATCH label operation. `add_values` / `remove_values` are understood by open-source SM only. */
export interface LabelOp {
  op: 'add' | 'remove' | 'add_values' | 'remove_values'
  key: string
  values?: string[]
}

export interface ListQuery {
  /** Criteria (escaped by the client) or a ready expression (sent as is). */
  fieldQuery?: Criterion[] | string
  labelQuery?: Criterion[] | string
  /** Page size sent as max_items (default 100). All pages are always fetched. */
  maxItems?: number
  /** Instances and bindings only: attach_last_operations=true */
  attachLastOperations?: boolean
  /** Offerings and plans on hosted SM: btp | kubernetes | cloudfoundry */
  environment?: string
}

/** 200/201 (`done`) vs 202 (`accepted`, poll `location`). */
export type AsyncResult<T> =
  | { kind: 'done'; resource?: T; id?: string }
  | { kind: 'accepted'; id: string; location: string }

export interface CreateInstanceBody {
  name: string
  service_plan_id?: string
  service_offering_name?: string
  service_plan_name?: string
  parameters?: Record<string, unknown>
  labels?: SMLabels
}

/** What an instance update may change (SM's PATCH /v1/service_instances/{id}). */
export interface UpdateInstanceBody {
  service_plan_id?: string
  parameters?: Record<string, unknown>
}

export interface CreateBindingBody {
  name: string
  service_instance_id: string
  parameters?: Record<string, unknown>
  labels?: SMLabels
  bind_resource?: Record<string, unknown>
}

export interface AsyncOptions {
  async?: boolean
  /** The caller's place booked in the throttle before (ServiceManagerClient.expectedWait), used up by this call. */
  booking?: string
}

export interface WaitOptions {
  /** Absolute deadline, epoch ms. */
  deadline: number
  signal?: AbortSignal
  /**
   * The operation is a delete: a 404 on the operation means done. Not needed when this client issued the
   * delete itself or once an operation document with type delete has been seen.
   */
  expectDelete?: boolean
}

export interface ThrottleRequest {
  method: string
  path: string
  /** the booking this call uses up (RateBudget.book) */
  booking?: string
}

/** How a throttled call ended: its HTTP status and Retry-After, or {} when no answer came. */
export interface ThrottleOutcome {
  status?: number
  retryAfterMs?: number
}

export interface ClientOptions {
  /** Per HTTP request, default 30000. */
  timeoutMs?: number
  /** Operation polling: first wait, default 1000; doubles up to pollMaxMs (default 15000). */
  pollInitialMs?: number
  pollMaxMs?: number
  /** Sent as X-CorrelationID on every SM call; default: a random UUID per client. */
  correlationId?: string
  /**
   * Awaited before every SM HTTP call (not token calls), e.g. a rate limiter. May throw to refuse. It may
   * resolve with a function that the client then calls once with the call's outcome (e.g. to pause on 429).
   */
  throttle?: (req: ThrottleRequest) => Promise<void | ((outcome: ThrottleOutcome) => void)>
  /** Expected wait in the rate budget for a call that `id` makes later; books its place (see RateBudget.book). */
  book?: (req: ThrottleRequest, id: string) => number | Promise<number>
  /** Until when (epoch ms) a 429 holds calls like this one back (0: not paused); see deadline.ts */
  pausedUntil?: (req: ThrottleRequest) => Promise<number>
  /**
   * Reads the credentials again: called once per call when SM or the token endpoint answers 401 with a
   * fresh token (a rotated secret or certificate); the call is repeated when they changed.
   */
  renew?: () => Promise<SMCredentials>
  /** Extra CA certificate (PEM) to trust at the token endpoint, e.g. the emulator's. */
  ca?: string
  /** Extra attempts for GETs on 429/503/network errors, default 3. */
  getRetries?: number
  /** Base delay of GET retries without Retry-After (doubles per attempt), default 500. */
  retryBaseMs?: number
  /** A Retry-After longer than this is not waited for inside a GET; the error is thrown instead. Default 30000. */
  maxRetryWaitMs?: number
  /** Default page size (max_items), default 100. */
  pageSize?: number
}
