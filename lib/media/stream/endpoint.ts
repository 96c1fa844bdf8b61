import type { Logger } from 'pino'
import { PhoneAgentError } from '../../errors.ts'
import { int16FromBytes, type PcmChunk } from '../pcm.ts'
import { frameSamples, isPreRtpFrame, isStreamRate, type StreamRate } from './frame.ts'
import { inboundFrame, type InboundFrame } from './inbound.ts'
import { FrameConsumers } from './frame-consumers.ts'
import { FrameListeners } from './frame-listeners.ts'
import { OutboundQueue, type Playout, type PlayoutResult } from './outbound.ts'
import { sharedScheduler, type FrameScheduler } from './scheduler.ts'
import { openDatagramSocket, type DatagramSocket } from './datagram-socket.ts'
import { HOLD_AHEAD_MS, advertisedAddressOf, type AddressPort, type SentListener, type MediaEndpointOptions, type MediaEndpointStats } from './endpoint-options.ts'
import { LITTLE_ENDIAN, SEND_RING_SLOTS, SendRing, type SendSlot } from './send-ring.ts'
import { CallPacer } from './call-pacer.ts'
import { WriteClock } from './write-clock.ts'
import { QuietIdle, WARM_MS } from './quiet-idle.ts'
import { keepDatagramMap } from './datagram-map.ts'
import { PacketRegrouper } from './packet-regroup.ts'
import { FrameCutter } from './frame-cutter.ts'

/**
 * One call's end of FreeSWITCH `unicast` media: a UDP socket that receives the caller's audio
 * and sends the agent's, paced by the shared frame scheduler.
 *
 * FreeSWITCH sends from the port it was told as `local-port` to ours, and plays what it
 * receives on that same port, one datagram per frame. So the first datagram tells us where
 * FreeSWITCH is (unless `peer` was given), and everything else is refused: a stranger who
 * guessed the port must not be able to speak into the call or learn what the caller says.
 */

export type { AddressPort, SentListener, MediaEndpointOptions, MediaEndpointStats, WriteTimer } from './endpoint-options.ts'
export { HOLD_AHEAD_MS } from './endpoint-options.ts'

const MAX_DATAGRAM = 1920 // 60 ms at 16 kHz: the largest ptime FreeSWITCH uses for L16 here
/** 20 ms of silence per rate, for sent-frame listeners: shared by every call, never written. */
const SILENT_SAMPLES: Readonly<Record<StreamRate, Int16Array>> = { 8000: new Int16Array(160), 16000: new Int16Array(320) }
/** One send in this many carries a callback, so send errors are still seen (once a second per call). */
const SAMPLE_EVERY = 50

export class MediaEndpoint {
  readonly rate: StreamRate
  readonly #socket: DatagramSocket
  /** The address FreeSWITCH sends to (the port is the socket's). */
  readonly #advertisedHost: string
  readonly #queue: OutboundQueue
  readonly #scheduler: FrameScheduler
  readonly #logger: Logger
  readonly #listeners: FrameListeners
  readonly #ring: SendRing
  readonly #pacer: CallPacer
  /** FreeSWITCH's write ticks, placed from the arrival of its frames (undefined: alignment off). */
  #writeClock: WriteClock | undefined
  /** The call's packets are not 20 ms: ours go out regrouped to its ptime, its cut into 20 ms frames. */
  #regroup: PacketRegrouper | undefined
  #cutter: FrameCutter | undefined
  /** Whether an idle tick sends its silence (quiet-idle.ts). */
  readonly #quiet: QuietIdle
  /** FreeSWITCH writes on the matrix timer (endpoint-options.ts writeTimer). */
  readonly #matrix: boolean
  readonly #consumers: FrameConsumers
  readonly #signal: AbortSignal | undefined
  readonly #onAbort: () => void
  #peer: AddressPort | undefined
  /**
   * `connected`: sends carry no address, the kernel filters the rest. While `connecting` nothing
   * is sent: a send with an address that lands after the connect fails (EISCONN).
   */
  #link: 'none' | 'connecting' | 'connected' = 'none'
  readonly #connectToPeer: boolean
  #closed = false
  /** FreeSWITCH has sent us a datagram: its thread that plays ours is running. Nothing is sent before. */
  #fsPlaying = false
  #seq = 0
  #mediaSamples = 0
  #stats = { received: 0, preRtp: 0, rtpGap: 0, droppedForeign: 0, droppedMalformed: 0, sent: 0, silenceSent: 0, sendErrors: 0, coldStarts: 0, heldTakenBack: 0 }
  #closedPromise: Promise<void> | undefined

  /** Bind the socket and start pacing (silence until audio is queued; nothing until FreeSWITCH has sent its first datagram). */
  static async open (options: MediaEndpointOptions): Promise<MediaEndpoint> {
    if (!isStreamRate(options.rate)) throw new PhoneAgentError('MEDIA_INVALID', `unicast: unsupported rate ${options.rate} (8000 or 16000)`)
    const advertised = advertisedAddressOf(options)
    const socket = await openDatagramSocket(options, options.bindAddress ?? '127.0.0.1')
    const endpoint = new MediaEndpoint(socket, options.rate, advertised, options)
    // A peer known up front is connected before the first tick can send.
    if (options.peer !== undefined) await endpoint.#connect(options.peer)
    return endpoint
  }

  private constructor (socket: DatagramSocket, rate: StreamRate, advertised: string, options: MediaEndpointOptions) {
    this.rate = rate
    this.#socket = socket
    this.#advertisedHost = advertised
    this.#queue = new OutboundQueue(rate)
    this.#scheduler = options.scheduler ?? sharedScheduler()
    this.#logger = options.logger
    this.#listeners = new FrameListeners(options.logger)
    this.#consumers = new FrameConsumers(options.maxBufferedFrames ?? 50)
    this.#peer = options.peer
    this.#connectToPeer = options.connect !== false
    // An ICMP port-unreachable (FreeSWITCH gone) surfaces as a socket error on some systems;
    // the call's own hangup handling ends the endpoint, so it is counted, not thrown.
    socket.listen((msg, from, ageMs) => { this.#onMessage(msg, from, ageMs) }, (err) => {
      this.#stats.sendErrors++
      this.#logger.debug({ err }, 'unicast socket error')
    })
    // A socket that copies each frame as it is sent (the shared one) gets one slot: 960 bytes
    // and three slot objects less a call at 8 kHz; a slot sent before a connect, busy until its
    // callback, makes the ring grow by one (send-ring.ts), once.
    this.#ring = new SendRing(this.#queue.rate * 2 * 20 / 1000, socket.copiesOnSend ? 1 : SEND_RING_SLOTS, this.#onSent, () => socket.sendQueueEmpty())
    // On timerfd a write after idle ticks goes out at once: no warm window, no ticks to place.
    this.#matrix = options.writeTimer !== 'timerfd'
    this.#quiet = new QuietIdle(this.#scheduler.clock.now(), options.warmIdleMs ?? (this.#matrix ? WARM_MS : 0))
    this.#writeClock = options.alignToWriteTicks === false || !this.#matrix ? undefined : new WriteClock(this.#scheduler.frameMs)
    // Methods, not named arrow functions (call-pacer.ts says why).
    const self = this
    this.#pacer = new CallPacer({
      writeClock: this.#writeClock,
      scheduler: this.#scheduler,
      queue: this.#queue,
      lead: Math.min(2, Math.max(0, Math.floor(options.leadFrames ?? 1))),
      // Held frames only on timerfd: the matrix write model places each idle frame by when it is sent.
      aheadMs: socket.holds && !this.#matrix ? (options.holdAheadMs ?? HOLD_AHEAD_MS) : 0,
      canSend () { return self.#canSend() },
      send (at) { self.#sendFrame(at) },
      // No warm window (timerfd): with nothing queued a call sends only its keep-alive, and every
      // event that could let it send sooner (FreeSWITCH's first frame, the connect, audio) kicks.
      wakeAt: this.#quiet.warms ? undefined : function wakeAt () { return self.#quiet.nextWanted(self.#scheduler.clock.now()) },
    })
    this.#signal = options.signal
    this.#onAbort = () => { void this.close() }
    if (this.#signal?.aborted === true) queueMicrotask(this.#onAbort)
    else this.#signal?.addEventListener('abort', this.#onAbort, { once: true })
  }

  /** Where the socket is bound. */
  get localAddress (): AddressPort { return { address: this.#socket.local.address, port: this.#socket.local.port } }
  /** What to put in the unicast command as `remote-ip` / `remote-port`. */
  get advertisedAddress (): AddressPort { return { address: this.#advertisedHost, port: this.#socket.local.port } }
  /** FreeSWITCH's address once locked (given, or learnt from the first datagram). */
  get peer (): AddressPort | undefined { return this.#peer }
  get closed (): boolean { return this.#closed }
  /** FreeSWITCH has sent its first datagram: `unicast` is running on its side. */
  get flowing (): boolean { return this.#fsPlaying }

  /**
   * FreeSWITCH asked again from another `local-port` (lib/call/stream/unicast-start.ts): only `peer`'s datagrams
   * from now on. Before its first (nothing sent yet) only; false then, or if the socket cannot take `peer`.
   */
  async retarget (peer: AddressPort): Promise<boolean> {
    if (this.#fsPlaying || this.#closed) return false
    this.#peer = { address: peer.address, port: peer.port }
    this.#link = 'connecting'
    const result = await this.#socket.retarget(this.#peer, this.#connectToPeer, this.#logger)
    this.#link = result === 'connected' && this.#connectToPeer && !this.#closed ? 'connected' : 'none'
    return result !== 'refused' && !this.#closed
  }

  get stats (): MediaEndpointStats {
    return { ...this.#stats, droppedSlowConsumer: this.#consumers.dropped, sendBuffersGrown: this.#ring.grown, idleSkipped: this.#pacer.idleSkipped, drainSkipped: this.#pacer.drainSkipped }
  }

  /** Agent audio still waiting to be sent, in ms. */
  get queuedMs (): number { return this.#queue.queuedMs }

  /** True while nothing is queued (the caller hears silence once FreeSWITCH's ~2 frames play out). */
  get idle (): boolean { return this.#queue.idle }

  /**
   * Queue agent audio: samples at the endpoint's rate, or a provider chunk at any rate
   * (resampled). The playout's promise settles when its last frame was sent.
   */
  enqueue (audio: Int16Array | PcmChunk, onFirstFrame?: (sentAt: number) => void): Playout {
    // A reply that starts on a cold call (quiet-idle.ts) may be written a tick late: counted.
    if (this.#matrix && this.#queue.empty && !this.#closed && !this.#quiet.wanted(this.#scheduler.clock.now())) this.#stats.coldStarts++
    let playout: Playout
    if (audio instanceof Int16Array) {
      playout = this.#queue.enqueue(audio, onFirstFrame)
    } else {
      const samples = int16FromBytes(audio.pcm)
      playout = audio.sampleRate === this.rate
        ? this.#queue.enqueue(samples, onFirstFrame)
        : this.#queue.enqueueConverted(samples, audio.sampleRate, onFirstFrame, (err) => { this.#logger.error({ err }, 'unicast resampling failed') })
    }
    this.#pacer.kick()
    return playout
  }

  /** The caller may be starting to talk: send silence, keep the queue (resume() goes on from there). */
  pause (): void {
    this.#queue.pause()
    this.#takeBackHeld()
  }

  resume (): void {
    this.#queue.resume()
    this.#pacer.kick()
  }

  get paused (): boolean { return this.#queue.paused }

  /** Barge-in: drop all queued audio; the next frame sent is silence. Returns what was sent of each dropped item. */
  clear (): PlayoutResult[] {
    this.#takeBackHeld()
    this.#regroup?.clear()
    return this.#queue.clear()
  }

  /**
   * Take back what the socket still holds (served ahead) and put its audio back in the queue
   * (OutboundQueue.unsend). Sent-frame listeners were told of those frames: harmless.
   */
  #takeBackHeld (): void {
    const n = this.#socket.cancelHeld()
    if (n === 0) return
    this.#stats.heldTakenBack += n
    this.#queue.unsend(this.#regroup?.takeBack(n) ?? n)
  }

  /**
   * Synchronous delivery of every inbound frame (VAD, a recorder): called on the socket's
   * event, so it must be cheap. Returns the unsubscribe function.
   */
  onFrame (listener: (frame: InboundFrame) => void): () => void {
    return this.#listeners.onFrame(listener)
  }

  /**
   * Every frame we send, with the scheduler-clock time of the tick that sent it (an echo guard
   * compares what comes back with it). Synchronous on the pacer's tick: keep it cheap. The
   * buffer is reused for a later frame once sent: copy what you keep, during the call. `samples`
   * is the same frame as samples, valid only during the call and never to be written: use it
   * instead of decoding `frame` (no array per frame).
   */
  onSent (listener: SentListener): () => void {
    return this.#listeners.onSent(listener)
  }

  /** Inbound frames as an async iterable for one consumer; ends on close() or when `signal` aborts. */
  frames (options: { signal?: AbortSignal } = {}): AsyncIterable<InboundFrame> {
    return this.#consumers.open(this.#closed, options.signal)
  }

  /** Stop pacing, release the socket, settle queued playouts as `closed`, end frame iterables. Idempotent. */
  close (): Promise<void> {
    if (this.#closedPromise !== undefined) return this.#closedPromise
    this.#closed = true
    this.#pacer.close()
    this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#queue.close()
    this.#consumers.endAll()
    this.#listeners.clear()
    this.#closedPromise = this.#socket.close()
    this.#logger.debug({ stats: this.stats }, 'unicast endpoint closed')
    return this.#closedPromise
  }

  #onMessage (msg: Buffer, rinfo: AddressPort, ageMs = 0): void {
    keepDatagramMap(msg)
    if (this.#closed) return
    // A gathered read (udp-mux.ts) comes up to 2 ms after the kernel had it: the frame keeps its arrival time.
    const receivedAt = this.#scheduler.clock.now() - ageMs
    const peer = this.#peer
    if (peer === undefined) {
      this.#peer = { address: rinfo.address, port: rinfo.port }
      this.#logger.info({ peer: this.#peer }, 'unicast source locked')
      void this.#connect(this.#peer)
    } else if (peer.address !== rinfo.address || peer.port !== rinfo.port) {
      if (this.#stats.droppedForeign === 0) this.#logger.warn({ from: { address: rinfo.address, port: rinfo.port } }, 'unicast datagram from a foreign address dropped')
      this.#stats.droppedForeign++
      return
    }
    if (!this.#fsPlaying) {
      // switch_ivr_park launches the thread that plays our datagrams (unicast_thread_launch) in
      // the same loop pass that sends us its first frame. Sent before, ours would wait in
      // FreeSWITCH's socket, a backlog ahead of every later frame for the rest of the call.
      this.#fsPlaying = true
      this.#sizePackets(msg.length)
      this.#pacer.kick()
    }
    if (msg.length === 0 || msg.length % 2 !== 0 || msg.length > MAX_DATAGRAM) {
      this.#stats.droppedMalformed++
      return
    }
    // Every frame of the park loop, 0xFF fill included, left on its read timer's tick: they
    // place the write timer's ticks (write-clock.ts).
    this.#writeClock?.observe(receivedAt)
    // FreeSWITCH's park loop sends a frame flagged SFF_CNG as all 0xFF bytes (switch_ivr.c
    // switch_ivr_park: `memset(decoded, 255, ...)`): before the caller's first RTP, and again
    // whenever it pauses (silence suppression, hold, loss). Before the first real frame there
    // is no call audio yet; after it, the pause is silence the VAD must hear, or a turn that
    // ends in a pause would wait for audio that never comes.
    const gap = isPreRtpFrame(msg)
    if (gap && this.#stats.received === 0) {
      this.#stats.preRtp++
      return
    }
    this.#stats.received++
    if (gap) this.#stats.rtpGap++
    const samples = frameSamples(msg, gap)
    // At another packet time than 20 ms, packets are cut into 20 ms frames (frame-cutter.ts).
    if (this.#cutter === undefined && samples.length === SILENT_SAMPLES[this.rate].length) this.#deliver(samples, receivedAt)
    else (this.#cutter ??= new FrameCutter(SILENT_SAMPLES[this.rate].length)).cut(samples, (frame) => { this.#deliver(frame, receivedAt) })
  }

  /** One 20 ms frame of the caller's to the listeners and the consumers. */
  #deliver (samples: Int16Array, receivedAt: number): void {
    const frame = inboundFrame(samples, this.rate, this.#seq++, this.#mediaSamples * 1000 / this.rate, receivedAt, undefined)
    this.#mediaSamples += samples.length
    this.#quiet.heard(samples, receivedAt)
    this.#listeners.frame(frame)
    this.#consumers.push(frame)
  }

  /** Whether the pacer may send now: audio queued always, idle silence while a turn may start (quiet-idle.ts). */
  #canSend (): boolean {
    if (!this.#fsPlaying || this.#peer === undefined || this.#closed || this.#link === 'connecting') return false
    return !this.#queue.empty || this.#quiet.wanted(this.#scheduler.clock.now())
  }

  /** The queue's next frame to the socket, to leave at `now` (a held frame: later than the clock's now). */
  #sendFrame (now: number): void {
    const idle = this.#queue.idle
    const slot = this.#ring.take()
    const frame = this.#queue.nextFrameInto(now, slot)
    const fromSlot = frame === slot.bytes
    this.#stats.sent++
    if (idle) this.#stats.silenceSent++
    this.#quiet.sent(now, !idle)
    const regroup = this.#regroup
    if (regroup !== undefined) regroup.push(frame, idle, !idle && this.#queue.empty, now)
    else this.#transmit(frame, fromSlot ? slot : undefined, this.#socket.holds ? now - this.#scheduler.clock.now() : 0)
    this.#queue.sent(now)
    if (regroup !== undefined || !this.#listeners.hearSent) return // regrouped: told per packet (#sizePackets)
    this.#listeners.sent(frame, now, fromSlot ? (LITTLE_ENDIAN ? slot.samples : frameSamples(Buffer.from(frame), false)) : SILENT_SAMPLES[this.rate])
  }

  /**
   * One datagram to the socket, held `holdMs` (served ahead) by a socket that holds; `slot`: the
   * ring's buffer it is in (a regrouped frame is copied out of its slot at once). Connected, most
   * sends carry no callback (~1 µs less each); Node then drops a send's error unseen (dgram.js
   * doSend), so one in SAMPLE_EVERY carries one. The send reaches libuv at once: its slot is free
   * once the send queue is seen empty (send-ring.ts). Not connected (an address lookup first) it is busy until its callback.
   */
  #transmit (bytes: Buffer, slot: SendSlot | undefined, holdMs: number): void {
    try {
      if (this.#link === 'connected') {
        this.#socket.send(bytes, this.#stats.sent % SAMPLE_EVERY === 1 ? this.#onSent : undefined, holdMs)
        if (slot !== undefined) this.#ring.sentWithoutCallback(slot)
      } else {
        this.#socket.sendTo(bytes, this.#peer as AddressPort, slot !== undefined ? this.#ring.sending(slot) : this.#onSent)
      }
    } catch (err) {
      if (slot !== undefined) this.#ring.release(slot)
      this.#onSent(err as Error)
    }
  }

  /**
   * FreeSWITCH's first datagram (0xFF fill too) is one packet: at a ptime not 20 ms ours are
   * regrouped to it (packet-regroup.ts), no 20 ms write ticks, and the sent-frame listeners hear
   * the packets as FreeSWITCH plays them, padding included: an echo guard told the 20 ms frames
   * saw its echo's delay jump at every padded reply end. A socket that holds keeps each packet
   * until its first sample is due, as a 20 ms call's frames are: a late event loop does not move it.
   */
  #sizePackets (bytes: number): void {
    if (bytes === 0 || bytes % 2 !== 0 || bytes > MAX_DATAGRAM) return
    this.#regroup = PacketRegrouper.forCall(bytes, this.rate, (packet, at) => {
      this.#transmit(packet, undefined, this.#socket.holds ? at - this.#scheduler.clock.now() : 0)
      if (this.#listeners.hearSent) this.#listeners.sent(packet, at, frameSamples(packet, false))
    }, this.#logger)
    if (this.#regroup === undefined) return
    this.#writeClock = undefined
    this.#pacer.sendsRegrouped()
  }

  /**
   * Connect the socket to the locked peer: a send then carries no address (about 1.3 of 7 µs per
   * datagram, measured on loopback), and the kernel refuses datagrams from anyone else. Until the
   * connect completes, sends carry the address; a connect that fails leaves it that way.
   */
  async #connect (peer: AddressPort): Promise<void> {
    if (!this.#connectToPeer) return
    this.#link = 'connecting'
    const ok = await this.#socket.connect(peer, this.#logger)
    this.#link = ok && !this.#closed ? 'connected' : 'none'
    // Audio queued while the connect was in flight goes out now, not at the next tick.
    this.#pacer.kick()
  }

  readonly #onSent: (err: Error | null) => void = this.#sent.bind(this)

  #sent (err: Error | null): void {
    if (err === null) return
    this.#stats.sendErrors++
    // On a connected socket, FreeSWITCH closing its end (unicast deactivated, the call over)
    // comes back as ICMP port unreachable on the next sends: the peer is gone, not a fault.
    if ((err as NodeJS.ErrnoException).code !== 'ECONNREFUSED' && this.#stats.sendErrors === 1) this.#logger.warn({ err }, 'unicast send failed')
  }
}
