/** Types of the Destination service emulator (emulator/destination/). */

/** One Destination service instance of a subaccount, and the service key to reach it (dev only). */
export interface DestinationServiceKey {
  subaccountId: string
  clientid: string
  clientsecret: string
  /** the REST API's base URL (`uri` of a Destination service key) */
  uri: string
  /** the UAA of the key: its token endpoint is `url` + /oauth/token */
  url: string
}

export interface DestinationEmulatorOptions {
  /** 0 or absent: a free port */
  port?: number
  /** subaccounts with a Destination service instance; default: the two dev subaccounts of the SM emulator */
  subaccounts?: { subaccountId: string; clientid?: string; clientsecret?: string }[]
  /** CA certificates (PEM) the find API trusts when it fetches a token over mTLS, e.g. the SM emulator's CA */
  trustedCa?: string
  tokenTtlSeconds?: number
  /** log every request: true = console, or a function taking one line */
  log?: boolean | ((line: string) => void)
  /** admin API under /__destination (for tests that drive the emulator from another process) */
  admin?: boolean
}

/** A fault the next matching requests get instead of their answer (the admin API takes `pathRegex`). */
export interface DestinationFault {
  method?: string
  /** path without query; a RegExp matches anywhere in it */
  path?: string | RegExp
  /** matching calls it affects (default 1) */
  times?: number
  /** answer with this status and an error body */
  status?: number
  /** carry the request out, then hang up without answering */
  dropResponse?: boolean
}

/** A request as the emulator received it (secrets in the body replaced by ***). */
export interface DestinationRecordedCall {
  method: string
  path: string
  /** the subaccount whose token the call carried */
  subaccountId?: string
  body?: unknown
  status: number
  fault?: 'status' | 'dropResponse'
  at: number
}

/** A destination as the REST API stores and answers it: flat properties, `Name` required. */
export type DestinationConfiguration = Record<string, string>

export interface DestinationCertificate {
  Name: string
  Type: string
  /** base64 of the file (for .pem: certificate chain and private key) */
  Content: string
}

export interface DestinationEmulator {
  /** REST API and token endpoint base (`uri` and `url` of every key) */
  url: string
  /** one service key per subaccount (dev-only secrets) */
  keys: DestinationServiceKey[]
  calls: DestinationRecordedCall[]
  /** the subaccount's destinations (copies) */
  destinations(subaccountId: string): DestinationConfiguration[]
  /** the names of the subaccount's certificates */
  certificates(subaccountId: string): string[]
  addFault(f: DestinationFault): void
  clearFaults(): void
  /** no destinations, certificates, faults or calls */
  reset(): void
  close(): Promise<void>
}
