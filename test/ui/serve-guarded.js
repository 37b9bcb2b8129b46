/**
 * Runs the CAP server for the browser tests and ends it together with the test process, also when that
 * one is killed (e.g. by a timeout) and cannot clean up itself.
 *
 *   node serve-guarded.js <command> [args...]
 *
 * The server runs in its own process group; SIGTERM/SIGINT to this process, or this process losing its
 * parent, ends that group.
 */
const { spawn } = require('child_process')

const parent = process.ppid
const [command, ...args] = process.argv.slice(2)
const server = spawn(command, args, { stdio: 'inherit', detached: true })

function stop() {
  try {
    process.kill(-server.pid, 'SIGTERM')
  } catch {
    // already gone
  }
}

server.on('exit', code => process.exit(code ?? 0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
setInterval(() => process.ppid !== parent && stop(), 1000)
