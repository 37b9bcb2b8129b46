/** ID helpers: deterministic name-based UUIDs (SHA-1, version 5 layout) and random ids. */
import { createHash, randomBytes, randomUUID } from 'crypto'

/** Namespace for all emulator name-based ids (fixed, so ids are stable across runs). */
const EMULATOR_NAMESPACE = 'b6f0c3de-7a51-4e2b-9c84-3d1f5e7a9b20'

function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}

/** Name-based UUID: same name -> same id, on every run and machine. */
export function nameUuid(name: string, namespace: string = EMULATOR_NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex')
  const digest = createHash('sha1').update(ns).update(name, 'utf8').digest()
  const b = Buffer.from(digest.subarray(0, 16))
  b[6] = (b[6] & 0x0f) | 0x50 // version 5
  b[8] = (b[8] & 0x3f) | 0x80 // RFC 4122 variant
  return formatUuid(b)
}

export function newId(): string {
  return randomUUID()
}

/** Random URL-safe string, used for secrets and token signatures. */
export function randomToken(bytes = 24): string {
  return randomBytes(bytes).toString('base64url')
}
