/** The emulators' servers: bound to 127.0.0.1, their connections tracked so that a close ends them at once. */
import type http from 'http'
import type { AddressInfo, Socket } from 'net'

/** Listens on 127.0.0.1 (port 0: any free one); answers the port. */
export function listen(server: http.Server, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

/** The server's open connections, kept in a set as they come and go. */
export function trackSockets(server: http.Server, event: 'connection' | 'secureConnection' = 'connection', sockets = new Set<Socket>()): Set<Socket> {
  server.on(event, (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  return sockets
}

/** Stops the server and ends its open connections (keep-alive ones included). */
export function stopServer(server: http.Server, sockets: Set<Socket>): Promise<void> {
  return new Promise<void>(resolve => {
    server.close(() => resolve())
    for (const s of sockets) s.destroy()
  })
}
