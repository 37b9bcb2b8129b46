import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'

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
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1' }
  delete env.NODE_ENV // jest sets "test"; npm start runs in the development profile
  delete env.CDS_ENV
  delete env.CDS_TYPESCRIPT
  const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'cds-tsx'), ['serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let ended = false
  child.stdout!.on('data', d => (out += d))
  child.stderr!.on('data', d => (out += d))
  const closed = new Promise<void>(resolve => child.once('exit', () => ((ended = true), resolve())))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start:\n${out}`)), timeoutMs)
    const look = () => {
      const port = /server listening on \{ url: 'http:\/\/localhost:(\d+)' \}/.exec(out)?.[1]
      if (port) {
        clearTimeout(timer)
        resolve(`http://127.0.0.1:${port}`)
      }
    }
    child.stdout!.on('data', look)
    child.once('exit', code => {
      clearTimeout(timer)
      reject(new Error(`the server ended (${code}) before listening:\n${out}`))
    })
  })
  return {
    url,
    child,
    output: () => out,
    exited: () => ended,
    stop: async () => {
      if (!ended) child.kill('SIGTERM')
      let timer: NodeJS.Timeout | undefined
      await Promise.race([closed, new Promise(r => (timer = setTimeout(r, 5000)))])
      clearTimeout(timer)
      if (!ended) child.kill('SIGKILL')
    }
  }
}
