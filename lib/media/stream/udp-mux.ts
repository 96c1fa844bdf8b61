import { isIPv4 } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { PhoneAgentError } from '../../errors.ts'
import type { UdpMuxAddon, UdpMuxHandle } from '../native/udp-mux-addon.ts'
import { portsToTry, type PortChoice } from './bind.ts'
import type { DatagramSocket, SendDone } from './datagram-socket.ts'
import type { AddressPort } from './endpoint-options.ts'
import { LITTLE_ENDIAN } from './send-ring.ts'
import { BatchMemory, IN_META } from './batch-memory.ts'
import { PeerTable } from './peer-table.ts'

/**
 * Every call's unicast media through one UDP socket of this process, read and written in
 * batches by a small C helper (lib/media/native/udp-mux.c), for `media.stream.sockets: shared`.
 *
 * FreeSWITCH is told the same `remote-port` (ours) for every call and sends each call's audio from
 * that call's own `local-port` (switch_ivr_activate_unicast binds it; the park loop's
 * switch_socket_sendto sends from it), so the source address and port say which call a datagram
 * is for; a datagram from any other source is dropped, as a connected socket of the call's own
 * would drop it. What we send goes from our one port to each call's `local-port`, where
 * unicast_thread_run reads whatever arrives on its socket.
 *
 * Why: a socket per call costs a syscall and a JavaScript callback per datagram each way; here a
 * readable socket wakes us once for up to 64 datagrams, and each pacer tick's frames for every
 * call go out in one sendmmsg, queued as the pacer makes them and flushed in a microtask at the
 * end of the tick (docs/operations.md "Shared media socket", docs/benchmarks.md).
 */

/** Frames one flush can hold; a tick with more flushes as it goes (4 MB of send slots: 2048 calls). */
const OUTBOX_SLOTS = 2048
/** Per datagram to send: address, port, length, held (then 1 if taken, 0 if not), due time's low 32 bits in µs (udp-mux.c). */
const OUT_META = 5
/** The longest a frame may be held (ms): a reply is served at most a frame or two ahead. */
const MAX_HOLD_MS = 1000
/**
 * A frame sent within this long after a held one's due time still goes through the C side's
 * queue, due with it and so behind it: the thread may be a little late, and a frame sent at once
 * must never overtake one of the same call still waiting there. Later still, the C side checks
 * (udp-mux.c, held_last_due): a frame sent at once while one of its call waits goes behind it.
 */
const ORDER_GUARD_MS = 5
/**
 * Once the socket is readable, wait this long before reading (udp-mux.c gatherMs): each call's
 * FreeSWITCH sends on its own phase of the 20 ms clock, so reading at once wakes us about once per
 * datagram; 2 ms gathers ~50 datagrams a wake-up at 500 calls. Each frame keeps its true arrival
 * time (the kernel's receive timestamp); what reaches the VAD is at most 2 ms later.
 */
export const GATHER_MS = 2

export interface UdpMuxStats {
  /** Datagrams from a source no call was registered for (a stranger, or a call already gone). */
  readonly foreign: number
  /** Frames the kernel did not take (a full send buffer): lost, as a full socket of a call's own would lose them. */
  readonly sendDropped: number
  readonly received: number
  /** Times the C side woke us with datagrams (received / wakeUps: datagrams per wake-up). */
  readonly wakeUps: number
  readonly sent: number
  /** sendmmsg flushes (sent / flushes: datagrams per system call, at most 64). */
  readonly flushes: number
  /** Frames held to be sent when due (a reply's frames served ahead), and what became of them. */
  readonly held: HeldStats
}

export interface HeldStats {
  readonly queued: number
  readonly sent: number
  /** Refused by the kernel when due (a full send buffer). */
  readonly dropped: number
  /** Taken back before they were due (a pause or a barge-in). */
  readonly cancelled: number
  /** Sent more than 1 ms after they were due (the helper's thread was late), and the latest, µs. */
  readonly late: number
  readonly maxLateUs: number
  readonly pending: number
  /** The thread runs at realtime priority (asked for with `realtime`, and granted). */
  readonly realtime: boolean
}

export class UdpMux {
  readonly address: string
  readonly port: number
  /** Frames can be held to be sent when due (the C helper's sending thread runs). */
  readonly holds: boolean
  readonly #addon: UdpMuxAddon
  readonly #handle: UdpMuxHandle
  readonly #inbox: Buffer
  readonly #inMeta: Int32Array
  readonly #outboxMemory: ArrayBuffer
  readonly #outbox: Buffer
  readonly #outMeta: Int32Array
  readonly #slot: number
  readonly #links = new PeerTable<MuxLink>()
  /** One for the mux's life, new memory each wake-up (batch-memory.ts says why not one per wake-up). */
  readonly #batch = new BatchMemory()
  /** The C side's clock (CLOCK_MONOTONIC, ms) less performance.now(): both count the same time. */
  readonly #clockOffset: number
  #queued = 0
  #flushQueued = false
  /** Send callbacks waiting for the flush that carries their frame, and that frame's slot. */
  #waiting: Array<{ done: SendDone, slot: number }> = []
  readonly #flushNow = (): void => { this.flush() }
  #closed = false
  #stats = { foreign: 0, sendDropped: 0, received: 0, wakeUps: 0, sent: 0, flushes: 0 }

  /** Binds `address` (IPv4) at `port`, or at a free port of the range; `realtime`: media.stream.realtimeSend. */
  static open (addon: UdpMuxAddon, address: string, port: PortChoice, gatherMs = GATHER_MS, realtime = false): UdpMux {
    if (!isIPv4(address)) throw new PhoneAgentError('CONFIG_INVALID', `media.stream.sockets: shared needs an IPv4 bindAddress (got ${address})`)
    const inbox = new ArrayBuffer(addon.BATCH * addon.SLOT)
    const inMeta = new Int32Array(addon.BATCH * IN_META)
    let lastError: unknown
    for (const candidate of portsToTry(port)) {
      let mux: UdpMux | undefined
      try {
        // The batch handler needs the mux, the mux needs the handle: the handler looks it up late.
        const [handle, bound, holds] = addon.open(address, candidate, inbox, inMeta, (count) => { mux?.received(count) }, gatherMs, realtime ? 1 : 0)
        mux = new UdpMux(addon, handle, address, bound, holds === 1, inbox, inMeta)
        return mux
      } catch (err) {
        lastError = err
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') break
      }
    }
    const where = typeof port === 'number' ? `${address}:${port}` : `${address} ports ${port.min}-${port.max}`
    throw new PhoneAgentError('CONFIG_INVALID', `media.stream.sockets: shared cannot bind ${where} (${(lastError as Error).message})`, { cause: lastError })
  }

  private constructor (addon: UdpMuxAddon, handle: UdpMuxHandle, address: string, port: number, holds: boolean, inbox: ArrayBuffer, inMeta: Int32Array) {
    this.#addon = addon
    this.#handle = handle
    this.address = address
    this.port = port
    this.holds = holds
    this.#inbox = Buffer.from(inbox)
    this.#inMeta = inMeta
    this.#slot = addon.SLOT
    this.#outboxMemory = new ArrayBuffer(OUTBOX_SLOTS * addon.SLOT)
    this.#outbox = Buffer.from(this.#outboxMemory)
    this.#outMeta = new Int32Array(OUTBOX_SLOTS * OUT_META)
    this.#clockOffset = clockOffset(addon)
  }

  get stats (): UdpMuxStats {
    const [queued = 0, sent = 0, dropped = 0, cancelled = 0, late = 0, maxLateUs = 0, pending = 0, realtime = 0] = this.#closed ? [] : this.#addon.heldStats(this.#handle)
    return { ...this.#stats, held: { queued, sent, dropped, cancelled, late, maxLateUs, pending, realtime: realtime === 1 } }
  }
  /** Calls registered now. */
  get links (): number { return this.#links.size }

  /** A call's share of the socket: its datagrams are those from `peer` (FreeSWITCH's local-ip:local-port for it). */
  link (peer: AddressPort): MuxLink {
    if (this.#closed) throw new PhoneAgentError('MEDIA_INVALID', 'unicast: the shared media socket is closed')
    return new MuxLink(this, peer)
  }

  /** @internal MuxLink.connect */
  register (link: MuxLink): boolean {
    const address = ipv4Int32(link.peer.address)
    return address !== undefined && this.#links.add(address, link.peer.port, link)
  }

  /** @internal MuxLink.close */
  unregister (link: MuxLink): void {
    const address = ipv4Int32(link.peer.address)
    if (address !== undefined) this.#links.delete(address, link.peer.port, link)
  }

  /**
   * @internal Queue one datagram to `to` for this tick's flush (copied now: the caller may reuse
   * `frame`); with `dueAt` (performance.now() time) the C side sends it then (holds only).
   */
  enqueue (frame: Buffer, to: number, port: number, done: SendDone | undefined, dueAt?: number): void {
    if (this.#closed) { done?.(new PhoneAgentError('MEDIA_INVALID', 'unicast: the shared media socket is closed')); return }
    if (this.#queued === OUTBOX_SLOTS) this.flush()
    const i = this.#queued++
    const length = Math.min(frame.length, this.#slot)
    frame.copy(this.#outbox, i * this.#slot, 0, length)
    const meta = this.#outMeta
    meta[i * OUT_META] = to
    meta[i * OUT_META + 1] = port
    meta[i * OUT_META + 2] = length
    if (dueAt === undefined) {
      meta[i * OUT_META + 3] = 0
    } else {
      // An absolute time, not a delay: the flush comes later in the tick, by as much as the tick's work.
      const dueUs = Math.round((Math.min(dueAt, performance.now() + MAX_HOLD_MS) + this.#clockOffset) * 1000)
      meta[i * OUT_META + 3] = 1
      meta[i * OUT_META + 4] = (dueUs % 4294967296) | 0
    }
    if (done !== undefined) this.#waiting.push({ done, slot: i })
    if (!this.#flushQueued) {
      this.#flushQueued = true
      queueMicrotask(this.#flushNow)
    }
  }

  /** Send what this tick queued, in as few syscalls as the kernel allows. */
  flush (): void {
    this.#flushQueued = false
    const count = this.#queued
    if (count === 0) return
    this.#queued = 0
    const taken = this.#addon.send(this.#handle, this.#outboxMemory, this.#outMeta, count)
    this.#stats.sent += taken
    this.#stats.flushes++
    this.#stats.sendDropped += count - taken
    const waiting = this.#waiting
    if (waiting.length === 0) return
    this.#waiting = []
    const meta = this.#outMeta
    for (const { done, slot } of waiting) {
      // The C side marks each datagram taken (sent, or held to be sent when due) or not.
      done(meta[slot * OUT_META + 3] === 1 ? null : new PhoneAgentError('MEDIA_INVALID', 'unicast: the shared socket\'s send buffer is full'))
    }
  }

  /** @internal Drop what is held for `to`:`port`, including what this tick has not flushed yet; how many. */
  cancel (to: number, port: number): number {
    if (this.#closed || !this.holds) return 0
    this.flush()
    return this.#addon.cancel(this.#handle, to, port)
  }

  /** Unbind; every link stops hearing. For tests and shutdown: calls share the socket for the process's life. */
  close (): void {
    if (this.#closed) return
    this.flush()
    this.#closed = true
    this.#addon.close(this.#handle)
    this.#links.clear()
  }

  /** @internal The C side read `count` datagrams into the inbox. */
  received (count: number): void {
    const meta = this.#inMeta
    const slot = this.#slot
    this.#stats.wakeUps++
    const batch = this.#batch
    batch.begin(meta, count, slot)
    for (let i = 0; i < count; i++) {
      const at = i * IN_META
      const link = this.#links.get(meta[at] as number, meta[at + 1] as number)
      if (link === undefined) { this.#stats.foreign++; continue }
      this.#stats.received++
      const length = meta[at + 2] as number
      const ageUs = meta[at + 3] as number
      // A datagram larger than a slot was cut: an empty one is refused as malformed by the endpoint.
      const msg = batch.take(length > slot ? 0 : length)
      this.#inbox.copy(msg, 0, i * slot, i * slot + msg.length)
      link.deliver(msg, ageUs > 0 ? ageUs / 1000 : 0)
    }
  }
}


/** One call's share of a UdpMux, as a DatagramSocket for its MediaEndpoint. */
export class MuxLink implements DatagramSocket {
  readonly local: AddressPort
  /** FreeSWITCH's `local-ip:local-port` for the call (changed only by retarget, before it sends). */
  peer: AddressPort
  readonly holds: boolean
  readonly #mux: UdpMux
  #to: number
  #onMessage: ((msg: Buffer, from: AddressPort, ageMs: number) => void) | undefined
  #registered = false
  #closed = false
  /** When the last frame held for this call is due (performance.now()); -Infinity: none held. */
  #heldUntil = Number.NEGATIVE_INFINITY

  constructor (mux: UdpMux, peer: AddressPort) {
    this.#mux = mux
    this.holds = mux.holds
    this.peer = { address: peer.address, port: peer.port }
    this.local = { address: mux.address, port: mux.port }
    const address = ipv4Int32(peer.address)
    if (address === undefined) throw new PhoneAgentError('MEDIA_INVALID', `unicast: the shared media socket needs FreeSWITCH's IPv4 address (got ${peer.address})`)
    this.#to = address
  }

  /** No socket errors here: a send the kernel refuses is reported to that send's callback. */
  listen (onMessage: (msg: Buffer, from: AddressPort, ageMs: number) => void, _onError?: (err: Error) => void): void {
    this.#onMessage = onMessage
  }

  /** @internal UdpMux.received; `ageMs`: how long ago the kernel received it. */
  deliver (msg: Buffer, ageMs: number): void {
    this.#onMessage?.(msg, this.peer, ageMs)
  }

  send (frame: Buffer, done?: SendDone, holdMs = 0): void {
    if (this.#closed) return
    if (!this.holds) {
      this.#mux.enqueue(frame, this.#to, this.peer.port, done)
      return
    }
    // Never ahead of a frame of this call still held: due with it at least (the C side keeps the order of equals).
    const now = performance.now()
    const due = Math.max(now + holdMs, this.#heldUntil)
    if (due <= now && now >= this.#heldUntil + ORDER_GUARD_MS) {
      this.#mux.enqueue(frame, this.#to, this.peer.port, done)
      return
    }
    this.#heldUntil = due
    this.#mux.enqueue(frame, this.#to, this.peer.port, done, due)
  }

  cancelHeld (): number {
    if (this.#heldUntil === Number.NEGATIVE_INFINITY) return 0
    this.#heldUntil = Number.NEGATIVE_INFINITY
    return this.#mux.cancel(this.#to, this.peer.port)
  }

  sendTo (frame: Buffer, peer: AddressPort, done: SendDone): void {
    const to = ipv4Int32(peer.address)
    if (this.#closed || to === undefined) { done(new PhoneAgentError('MEDIA_INVALID', `unicast: cannot send to ${peer.address}`)); return }
    this.#mux.enqueue(frame, to, peer.port, done)
  }

  /** Registers the call's peer: from now on its datagrams come here. False when another call holds it. */
  async connect (peer: AddressPort, logger: Logger): Promise<boolean> {
    if (peer.address !== this.peer.address || peer.port !== this.peer.port) {
      logger.warn({ peer, registered: this.peer }, 'unicast: a shared-socket call cannot change its FreeSWITCH port')
      return false
    }
    if (this.#registered || this.#closed) return this.#registered
    this.#registered = this.#mux.register(this)
    if (!this.#registered) logger.warn({ peer }, 'unicast: another call still streams from this FreeSWITCH port on the shared socket: this call gets a socket of its own')
    return this.#registered
  }

  /** Registered under `peer` instead (FreeSWITCH asked again from another port). False when another call holds it. */
  async retarget (peer: AddressPort, _connect: boolean, logger: Logger): Promise<'connected' | 'refused'> {
    const to = ipv4Int32(peer.address)
    if (this.#closed || to === undefined) return 'refused'
    if (this.#registered) this.#mux.unregister(this)
    this.peer = { address: peer.address, port: peer.port }
    this.#to = to
    this.#registered = false
    return await this.connect(this.peer, logger) ? 'connected' : 'refused'
  }

  /** Frames are copied into the shared outbox when sent: a send buffer is free at once. */
  sendQueueEmpty (): boolean { return true }
  /** enqueue() copies each frame into the outbox at once. */
  readonly copiesOnSend = true

  async close (): Promise<void> {
    if (this.#closed) return
    this.cancelHeld()
    this.#closed = true
    this.#onMessage = undefined
    this.#mux.unregister(this)
  }
}

/** The C clock less performance.now(), from the closest of a few readings (a read between two of the other's). */
function clockOffset (addon: UdpMuxAddon): number {
  let best = Number.POSITIVE_INFINITY
  let offset = 0
  for (let i = 0; i < 5; i++) {
    const before = performance.now()
    const c = addon.clockMs()
    const after = performance.now()
    if (after - before < best) {
      best = after - before
      offset = c - (before + after) / 2
    }
  }
  return offset
}

/** The address as the C side reads it into an Int32Array: the four bytes in network order, in host order memory. */
function ipv4Int32 (address: string): number | undefined {
  if (!isIPv4(address)) return undefined
  const [a, b, c, d] = address.split('.').map(Number) as [number, number, number, number]
  return LITTLE_ENDIAN ? (a | b << 8 | c << 16 | d << 24) : (a << 24 | b << 16 | c << 8 | d)
}
