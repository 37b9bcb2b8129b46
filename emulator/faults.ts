/** Injected faults: matched against each request, consumed in the order they were added. */
import type { Fault } from './types'

interface ArmedFault {
  fault: Fault
  left: number
}

/** A fault that only changes the operation a call creates (no status/drop/reset/delay). */
export function isOperationOnly(f: Fault): boolean {
  return f.status === undefined && !f.dropResponse && !f.resetConnection && !(f.delayResponseMs && f.delayResponseMs > 0)
}

export class FaultBook {
  private armed: ArmedFault[] = []

  add(f: Fault): void {
    const times = f.times === undefined ? 1 : Math.max(0, Math.floor(f.times))
    if (times > 0) this.armed.push({ fault: f, left: times })
  }

  clear(): void {
    this.armed = []
  }

  get pending(): number {
    return this.armed.length
  }

  /**
   * Take the first matching fault (decrementing its remaining count).
   * Operation-only faults are only taken by calls that create an operation (`createsOperation`),
   * so that e.g. a token call never swallows a failOperation meant for a POST.
   */
  take(method: string, path: string, createsOperation: boolean): Fault | undefined {
    const idx = this.armed.findIndex(({ fault }) => {
      if (fault.method && fault.method.toUpperCase() !== method.toUpperCase()) return false
      if (fault.path !== undefined) {
        if (typeof fault.path === 'string') {
          if (stripSlash(fault.path) !== stripSlash(path)) return false
        } else {
          fault.path.lastIndex = 0
          if (!fault.path.test(path)) return false
        }
      }
      if (isOperationOnly(fault) && !createsOperation) return false
      return true
    })
    if (idx < 0) return undefined
    const entry = this.armed[idx]
    entry.left--
    if (entry.left <= 0) this.armed.splice(idx, 1)
    return entry.fault
  }
}

function stripSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p
}
