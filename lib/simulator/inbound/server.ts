import { createServer, type Server, type Socket } from 'node:net'
import { runApi } from './api.ts'
import type { InboundState } from './state.ts'

export type { AclList, GatewayState, InboundState } from './state.ts'
export { parseXml, toFsXml, withConfiguration, type XmlElement } from './xml.ts'
export { aclAllows, runApi } from './api.ts'

/**
 * The inbound side of the fake FreeSWITCH: mod_event_socket's listener (port 8021), as
 * listener_run() and parse_command() in src/mod/event_handlers/mod_event_socket/mod_event_socket.c
 * run it: `auth/request` on connect; `auth <password>` answered `+OK accepted` or `-ERR invalid`
 * (then the connection ends); `api ...` answered as `api/response` with Content-Length;
 * `exit` answered `+OK bye`; anything else `-ERR command not found`. Closing sends the
 * disconnect notice listener_run() sends.
 */

const DISCONNECT = 'Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n'
const reply = (text: string): string => `Content-Type: command/reply\nReply-Text: ${text}\n\n`

export interface FakeInboundEsl {
  readonly port: number
  /** Every command line received, for tests (passwords included: it is a fake). */
  readonly commands: readonly string[]
  /** Connections still open. */
  readonly openConnections: number
  /** Resolves once no connection is open (every client gone). */
  idle (): Promise<void>
  close (): Promise<void>
}

export async function startInboundEsl (state: InboundState, host = '127.0.0.1'): Promise<FakeInboundEsl> {
  const commands: string[] = []
  const sockets = new Set<Socket>()
  let idleWaiters: Array<() => void> = []

  const serve = (socket: Socket): void => {
    sockets.add(socket)
    socket.on('close', () => {
      sockets.delete(socket)
      if (sockets.size === 0) { for (const w of idleWaiters) w(); idleWaiters = [] }
    })
    socket.on('error', () => {})
    if (state.refuseClients) {
      const msg = 'Access Denied, go away.\n'
      socket.end(`Content-Type: text/rude-rejection\nContent-Length: ${Buffer.byteLength(msg)}\n\n${msg}`)
      return
    }
    let authed = false
    let buffer = ''
    const bye = (): void => {
      socket.end(`Content-Type: text/disconnect-notice\nContent-Length: ${Buffer.byteLength(DISCONNECT)}\n\n${DISCONNECT}`)
    }
    socket.write('Content-Type: auth/request\n\n')
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8')
      let end: number
      // read_packet(): a command ends at an empty line.
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const packet = buffer.slice(0, end).replace(/\r/g, '')
        buffer = buffer.slice(end + 2)
        const line = packet.split('\n')[0] ?? ''
        commands.push(line)
        if (line.startsWith('exit')) { socket.write(reply('+OK bye')); bye(); return }
        if (!authed) {
          if (line.startsWith('auth ') && line.slice(5) === state.password) {
            authed = true
            socket.write(reply('+OK accepted'))
          } else {
            socket.write(reply('-ERR invalid'))
            bye()
            return
          }
          continue
        }
        if (line.startsWith('api ')) {
          const body = runApi(state, line.slice(4))
          socket.write(`Content-Type: api/response\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}`)
          continue
        }
        socket.write(reply('-ERR command not found'))
      }
    })
  }

  const server: Server = createServer(serve)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => { resolve() })
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    port,
    commands,
    get openConnections () { return sockets.size },
    async idle () {
      if (sockets.size === 0) return
      await new Promise<void>((resolve) => { idleWaiters.push(resolve) })
    },
    async close () {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    },
  }
}
