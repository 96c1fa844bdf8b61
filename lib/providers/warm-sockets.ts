import type { Socket } from 'node:net'
import { Agent, buildConnector } from 'undici'

/**
 * A provider pool that can open connections before a request needs them.
 *
 * The pool keeps a connection 30 s after its last request (openai-client.ts), so the first turn
 * after a quiet spell paid a new TCP handshake for each provider, and TLS on top against a real
 * one (tens of ms over the internet, on the critical path of the reply). `preconnect(origin)`
 * opens the missing connections when a call starts or a turn begins listening: TCP and TLS
 * only, no HTTP request, so nothing a provider could bill or log is sent. Each socket waits
 * here ("parked") until the pool next connects to its origin, which takes it instead of
 * dialling; one the server closes meanwhile, or that waits longer than the keep-alive, is
 * dropped, and the pool then dials as before.
 */
export class ProviderPool extends Agent {
  readonly #dial: buildConnector.connector
  readonly #parkMs: number
  /** Open pooled connections per origin (busy or idle), from the pool's connect/disconnect events. */
  readonly #live = new Map<string, number>()
  readonly #parked = new Map<string, Parked[]>()
  readonly #opening = new Map<string, number>()

  /** `connect`: TLS options for the connector (a test's own CA); undici's defaults otherwise. */
  constructor (keepAliveMs: number, connect: buildConnector.BuildOptions = {}) {
    // The connector the pool would build for itself (undici Pool: buildConnector with its defaults).
    const dial = buildConnector(connect)
    let self: ProviderPool | undefined
    super({
      keepAliveTimeout: keepAliveMs,
      keepAliveMaxTimeout: keepAliveMs,
      connect: (options, callback) => {
        const socket = self === undefined ? undefined : self.#take(`${options.protocol}//${options.host ?? options.hostname}`)
        if (socket !== undefined) callback(null, socket)
        else dial(options, callback)
      },
    })
    self = this
    this.#dial = dial
    this.#parkMs = keepAliveMs
    this.on('connect', (origin) => { this.#count(origin, 1) })
    this.on('disconnect', (origin) => { this.#count(origin, -1) })
  }

  /**
   * Make sure `connections` connections to `origin` (`https://api.openai.com`) are open or being
   * opened: what a turn uses at once (transcription, then the model's stream while the speech
   * of its first sentence is asked for). Never throws; a failed dial is left to the request.
   */
  preconnect (origin: string, connections = 2): void {
    if (this.destroyed || this.closed) return
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      return
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return
    const key = url.origin
    const have = (this.#live.get(key) ?? 0) + (this.#parked.get(key)?.length ?? 0) + (this.#opening.get(key) ?? 0)
    for (let i = have; i < connections; i++) {
      this.#opening.set(key, (this.#opening.get(key) ?? 0) + 1)
      // As undici's Client passes it (client.js connect): an IPv6 literal without its brackets.
      const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
      this.#dial({ host: url.host, hostname, protocol: url.protocol, port: url.port, servername: undefined, localAddress: null }, (err, socket) => {
        this.#opening.set(key, (this.#opening.get(key) ?? 1) - 1)
        if (err !== null || socket === null) return
        if (this.destroyed || this.closed) { socket.destroy(); return }
        this.#park(key, socket)
      })
    }
  }

  /** Parked sockets by origin (tests). */
  parkedCount (origin: string): number {
    return this.#parked.get(new URL(origin).origin)?.length ?? 0
  }

  /** Close the parked sockets (shutdown; the pool's own connections go with destroy/close). */
  dropParked (): void {
    for (const list of [...this.#parked.values()]) for (const p of [...list]) p.drop()
  }

  #count (origin: unknown, by: number): void {
    const key = origin instanceof URL ? origin.origin : String(origin)
    const n = (this.#live.get(key) ?? 0) + by
    if (n > 0) this.#live.set(key, n)
    else this.#live.delete(key)
  }

  #park (key: string, socket: Socket): void {
    const list = this.#parked.get(key) ?? []
    this.#parked.set(key, list)
    // An idle socket must not hold the process open (undici unrefs its idle ones too).
    socket.unref()
    const drop = (): void => {
      release()
      socket.destroy()
    }
    const release = (): void => {
      clearTimeout(timer)
      socket.off('end', drop).off('close', drop).off('error', drop)
      const i = list.indexOf(parked)
      if (i >= 0) list.splice(i, 1)
      if (list.length === 0 && this.#parked.get(key) === list) this.#parked.delete(key)
    }
    const timer = setTimeout(drop, this.#parkMs)
    timer.unref()
    const parked: Parked = { socket, release, drop }
    socket.on('end', drop).on('close', drop).on('error', drop)
    list.push(parked)
  }

  #take (key: string): Socket | undefined {
    const list = this.#parked.get(key)
    while (list !== undefined && list.length > 0) {
      const parked = list[0] as Parked
      parked.release()
      const s = parked.socket
      if (!s.destroyed && s.readyState === 'open') {
        // Referenced again, as a socket undici dials is: it takes a new socket for referenced
        // (client-h1.js connectH1: kNoRef = false) and unrefs it only while idle (resumeH1), so
        // a parked socket left unref'd would not hold the process open during a request.
        s.ref()
        return s
      }
      s.destroy()
    }
    return undefined
  }
}

interface Parked {
  readonly socket: Socket
  /** Out of the parking, listeners and timer removed, the socket left open. */
  readonly release: () => void
  readonly drop: () => void
}
