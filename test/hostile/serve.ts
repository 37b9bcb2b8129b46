import type { ChildProcess } from 'node:child_process'
import path from 'node:path'
import { CDS_LISTENING, childEnv, onLoopback, start } from '../support/process'

export const ROOT = path.join(__dirname, '..', '..')

export interface Served {
  url: string
  child: ChildProcess
  /** everything the server printed */
  output: () => string
  /** whether the process has ended */
  exited: () => boolean
  stop: () => Promise<void>
}

/**
 * Starts the app the way `npm start` does at the project root (`cds-tsx serve`: TypeScript handlers,
 * development profile, CAP's shutdown on uncaught errors active) on a free port of 127.0.0.1.
 */
export async function serveApp(timeoutMs = 45000): Promise<Served> {
  // jest sets NODE_ENV "test"; npm start runs in the development profile
  const env = childEnv({ PORT: '0', HOST: '127.0.0.1', NODE_ENV: undefined, CDS_ENV: undefined, CDS_TYPESCRIPT: undefined }, () => false)
  const { proc, match } = await start({ name: 'the server', command: path.join(ROOT, 'node_modules', '.bin', 'cds-tsx'), args: ['serve'], cwd: ROOT, env, ready: CDS_LISTENING, timeoutMs })
  return { url: onLoopback(match[1]), child: proc.child, output: proc.output, exited: proc.ended, stop: () => proc.stop('SIGTERM', 5000) }
}
