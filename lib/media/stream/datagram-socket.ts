import type dgram from 'node:dgram'
import type { Logger } from 'pino'
import { isIPv6 } from 'node:net'
import type { AddressPort, MediaEndpointOptions } from './endpoint-options.ts'
import { bindSocket, connectSocket } from './bind.ts'

export type SendDone = (err: Error | null) => void

/**
 * One call's media socket as the endpoint uses it: a Node dgram socket of its own
 * (NodeDatagramSocket), or its share of the process's batched socket (udp-mux.ts MuxLink).
 */
export interface DatagramSocket {
  /** Where it is bound (a retarget may move a port the kernel chose). */
  readonly local: AddressPort
  /**
   * Every datagram from the peer (for an unconnected dgram socket: from anyone), and socket errors.
   * `ageMs`: how long ago the kernel received it, when the socket knows (a gathered read); 0 or absent: just now.
   */
  listen (onMessage: (msg: Buffer, from: AddressPort, ageMs?: number) => void, onError: (err: Error) => void): void
  /**
   * Sends a frame after any it holds (see `holds`): at once, or with `holdMs` that much later.
   * The peer is the connected one; `done` (rarely given: it costs a task) sees the error, if any.
   */
  send (frame: Buffer, done?: SendDone, holdMs?: number): void
  /**
   * True when `send` can hold a frame until its moment without the event loop (udp-mux.ts: a
   * thread of the C helper sends it); false: `holdMs` is not honoured and must not be given.
   */
  readonly holds: boolean
  /** Take back the frames still held (a barge-in); how many. */
  cancelHeld (): number
  /** To `peer`, before a connect. */
  sendTo (frame: Buffer, peer: AddressPort, done: SendDone): void
  /** Sends carry no address from now on and nobody else's datagrams reach us; false when it failed. */
  connect (peer: AddressPort, logger: Logger): Promise<boolean>
  /**
   * Before the peer has sent anything: `peer` instead of the old one, connected to it when
   * `connect` and the connect works (`open`: sends carry the address, the endpoint filters what
   * arrives), `refused` when its datagrams cannot reach us.
   */
  retarget (peer: AddressPort, connect: boolean, logger: Logger): Promise<'connected' | 'open' | 'refused'>
  /** Every frame handed over so far has been copied out of its buffer (send-ring.ts). */
  sendQueueEmpty (): boolean
  /**
   * `send` copies the frame before it returns (udp-mux.ts), so one buffer can be filled and sent
   * again and again: the endpoint's send ring needs one slot, not SEND_RING_SLOTS (send-ring.ts).
   */
  readonly copiesOnSend: boolean
  close (): Promise<void>
}

/** A Node dgram socket of the call's own: one syscall and one callback per datagram. */
export class NodeDatagramSocket implements DatagramSocket {
  local: AddressPort
  /** A datagram goes when Node hands it to the kernel: nothing is held. */
  readonly holds = false
  /** libuv sends from the frame's own memory, after `send` returns. */
  readonly copiesOnSend = false
  readonly #socket: dgram.Socket

  constructor (socket: dgram.Socket) {
    this.#socket = socket
    const { address, port } = socket.address()
    this.local = { address, port }
  }

  listen (onMessage: (msg: Buffer, from: AddressPort) => void, onError: (err: Error) => void): void {
    this.#socket.on('message', onMessage)
    this.#socket.on('error', onError)
  }

  send (frame: Buffer, done?: SendDone): void {
    if (done === undefined) this.#socket.send(frame)
    else this.#socket.send(frame, done)
  }

  sendTo (frame: Buffer, peer: AddressPort, done: SendDone): void {
    this.#socket.send(frame, peer.port, peer.address, done)
  }

  cancelHeld (): number { return 0 }

  async connect (peer: AddressPort, logger: Logger): Promise<boolean> {
    return await connectSocket(this.#socket, peer, logger)
  }

  async retarget (peer: AddressPort, connect: boolean, logger: Logger): Promise<'connected' | 'open'> {
    try {
      this.#socket.disconnect()
    } catch {
      // ERR_SOCKET_DGRAM_NOT_CONNECTED: never connected (or the connect failed); nothing to undo.
    }
    // Not connected, datagrams from anyone arrive and the endpoint keeps only the peer's.
    const connected = connect && await connectSocket(this.#socket, peer, logger)
    // Linux unbinds a port the kernel chose when the socket disconnects (__udp_disconnect: no
    // SOCK_BINDPORT_LOCK), and the connect binds another: FreeSWITCH must be told the new one.
    const { address, port } = this.#socket.address()
    this.local = { address, port }
    return connected ? 'connected' : 'open'
  }

  sendQueueEmpty (): boolean {
    return this.#socket.getSendQueueCount() === 0
  }

  async close (): Promise<void> {
    await new Promise<void>((resolve) => { this.#socket.close(() => { resolve() }) })
  }
}

/**
 * A call's socket: its share of the process's shared socket (udp-mux.ts) when there is one and
 * FreeSWITCH's port is known up front (it is how the call's datagrams are told apart), else a
 * socket of its own. A FreeSWITCH port another live call still holds on the shared socket (the
 * kernel handed out a port just freed) gets a socket of its own too, rather than no audio.
 */
export async function openDatagramSocket (options: MediaEndpointOptions, bindAddress: string): Promise<DatagramSocket> {
  if (options.mux !== undefined && options.peer !== undefined) {
    const link = options.mux.link(options.peer)
    if (await link.connect(options.peer, options.logger)) return link
    await link.close()
  }
  return new NodeDatagramSocket(await bindSocket(isIPv6(bindAddress) ? 'udp6' : 'udp4', bindAddress, options.port ?? 0, options.signal))
}
