import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import type { Logger } from 'pino'
import { FRAME_SAMPLES } from './caller.ts'
import { decodeAlaw, encodeAlaw } from './g711.ts'
import type { Packet } from './wire.ts'

/**
 * One unicast connection, after src/switch_ivr.c in signalwire/freeswitch:
 * switch_ivr_activate_unicast() binds the socket, unicast_thread_run() turns every datagram it
 * receives into a frame written toward the caller, and switch_ivr_deactivate_unicast() closes
 * it. The caller's side (one datagram per 20 ms frame read in park) is sent by the park loop
 * through sendRead(); see Session.park().
 */

/** switch_ivr_parse_event(), CMD_UNICAST: the headers and their defaults. */
export interface UnicastParams {
  readonly localIp: string
  readonly localPort: number
  readonly remoteIp: string
  readonly remotePort: number
  readonly transport: string
  readonly native: boolean
}

export function unicastParams (packet: Packet): UnicastParams {
  const get = (name: string, fallback: string): string => {
    const v = packet.get(name)
    return v === undefined || v === '' ? fallback : v
  }
  // (switch_port_t) atoi(port): garbage is 0, and the value wraps at 16 bits.
  const port = (v: string): number => (Number.parseInt(v, 10) || 0) & 0xffff
  return {
    localIp: get('local-ip', '127.0.0.1'),
    localPort: port(get('local-port', '8025')),
    remoteIp: get('remote-ip', '127.0.0.1'),
    remotePort: port(get('remote-port', '8026')),
    transport: get('transport', 'udp'),
    native: (packet.get('flags') ?? '').includes('native'),
  }
}

export type UnicastEnd = 'reset' | 'unpark' | 'send-failed' | 'call-ended'

/** One `call-command: unicast` as the simulator carried it out. */
export interface UnicastRecord {
  readonly params: UnicastParams
  readonly activatedMs: number
  /** Why activation failed (nothing bound, CF_UNICAST unchanged), as FreeSWITCH logs it. */
  failed?: string
  /** The port FreeSWITCH's socket is bound to (the kernel's choice when local-port was 0). */
  boundPort?: number
  /** When the park loop picked it up and started the thread that plays our datagrams. */
  launchedMs?: number
  closedMs?: number
  closedBy?: UnicastEnd
  /** Datagrams sent to remote-ip:remote-port, of which cngFramesSent were 0xFF fill. */
  framesSent: number
  cngFramesSent: number
  /** Datagrams the thread read (our audio). */
  datagramsReceived: number
  /** A zero-length datagram ended unicast_thread_run(): our audio is no longer read. */
  threadStopped: boolean
}

export interface UnicastHooks {
  /** Call timeline, ms. */
  now (): number
  /** switch_core_session_write_frame() of one packet toward the caller (20 ms, or the call's ptime). */
  write (samples: Int16Array, arrivalMs: number): void
  /** An asynchronous sendto() failure: the park loop deactivates unicast. */
  sendFailed (link: UnicastPort): void
  readonly log: Logger | undefined
  /**
   * Samples in one packet of the call (its ptime; default 160, 20 ms): unicast's L16 codec is made
   * at the read codec's rate and ptime (switch_ivr.c switch_ivr_activate_unicast, 444-452), so each
   * datagram either way is one such packet. Only UnicastLink models it.
   */
  readonly packetSamples?: number
}

/** What the park loop and the channel's media use of one unicast connection. */
export interface UnicastPort {
  readonly record: UnicastRecord
  readonly closed: Promise<void>
  readonly isClosed: boolean
  /**
   * The connection sends the caller's frames at its own 20 ms pace (an engine in another
   * process): the park loop then only runs commands and never calls sendRead().
   */
  readonly selfPaced: boolean
  launch (): void
  sendRead (samples: Int16Array, gap?: boolean): boolean
  deactivate (by: UnicastEnd): void
}

/**
 * Who carries FreeSWITCH's side of unicast: UnicastLink in this process (the default), or a
 * load driver's engine in another process (bench/load-media.ts: hundreds of calls' 20 ms
 * clocks would otherwise make the simulator the bottleneck it is measuring).
 */
export interface UnicastEngine {
  activate (params: UnicastParams, hooks: UnicastHooks, cngFrames: number): Promise<{ record: UnicastRecord, link?: UnicastPort }>
}

/** SWITCH_RECOMMENDED_BUFFER_SIZE: the size of conninfo->write_frame_data. */
const MAX_DATAGRAM = 8192

export class UnicastLink implements UnicastPort {
  readonly selfPaced = false
  private ready = false // SUF_READY
  private running = false // SUF_THREAD_RUNNING
  private closing = false
  /** Datagrams that arrive before the thread runs wait in the socket's receive buffer. */
  private pending: Buffer[] = []
  /** A datagram longer than a packet: L16 re-cut into whole packets (not checked on a real switch). */
  private raw = Buffer.alloc(0)
  /** L16 bytes of one packet: read_impl.decoded_bytes_per_packet, also the size of a CNG fill. */
  private readonly packetBytes: number
  /** conninfo->write_frame_data: every datagram is received into it at offset 0 (see consume). */
  private readonly writeBuffer: Buffer
  /** The caller's samples read (20 ms at a time) and not yet sent: a packet is sent once whole. */
  private readPending = new Int16Array(0)
  private closedResolve: () => void = () => {}
  readonly closed = new Promise<void>((resolve) => { this.closedResolve = resolve })

  private constructor (
    readonly record: UnicastRecord,
    private readonly socket: UdpSocket,
    private readonly hooks: UnicastHooks,
    private readonly cngFrames: number,
  ) {
    // unicast_thread_run reads with switch_socket_recv on its unconnected socket (switch_ivr.c):
    // a datagram from any source is played, so one shared socket of ours (media.stream.sockets:
    // shared) can feed every call, each at its own local-port.
    socket.on('message', (msg: Buffer) => { this.onDatagram(msg) })
    socket.on('error', (err) => { hooks.log?.debug({ err }, 'simulated unicast socket error') })
    this.packetBytes = (hooks.packetSamples ?? FRAME_SAMPLES) * 2
    // Session pool memory: zeroed when the connection is made (switch_ivr.c 410).
    this.writeBuffer = Buffer.alloc(MAX_DATAGRAM)
  }

  /** switch_ivr_activate_unicast(): the socket is always SOCK_DGRAM, whatever `transport` says. */
  static async activate (params: UnicastParams, hooks: UnicastHooks, cngFrames: number): Promise<{ record: UnicastRecord, link?: UnicastLink }> {
    const record: UnicastRecord = { params, activatedMs: hooks.now(), framesSent: 0, cngFramesSent: 0, datagramsReceived: 0, threadStopped: false }
    const transport = params.transport.toLowerCase()
    if (transport !== 'udp' && transport !== 'tcp') {
      record.failed = `Invalid transport ${params.transport}`
      return { record }
    }
    const socket = createSocket('udp4')
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject)
        socket.bind({ address: params.localIp, port: params.localPort, exclusive: true }, () => {
          socket.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      record.failed = `Failure creating unicast connection ${params.localIp}:${params.localPort}->${params.remoteIp}:${params.remotePort}`
      hooks.log?.debug({ err }, 'simulated unicast bind failed')
      await new Promise<void>((resolve) => { try { socket.close(() => { resolve() }) } catch { resolve() } })
      return { record }
    }
    record.boundPort = socket.address().port
    const link = new UnicastLink(record, socket, hooks, cngFrames)
    link.ready = true
    return { record, link }
  }

  get isClosed (): boolean {
    return this.closing
  }

  /** unicast_thread_launch(): from now on our datagrams are read and played. */
  launch (): void {
    if (this.closing || this.running) return
    this.running = true
    this.record.launchedMs = this.hooks.now()
    for (const msg of this.pending.splice(0)) this.consume(msg)
  }

  /**
   * The park loop's switch_socket_sendto() of one packet the caller said: 0xFF fill while no RTP
   * has come in yet and whenever it pauses (`cng`: SFF_CNG; always decoded_bytes_per_packet
   * long, even in native mode), the A-law payload in native mode, decoded L16 little-endian
   * otherwise. The simulator's park loop reads 20 ms frames: at another ptime they are sent as
   * whole packets (at 30 ms two every three frames; at 10 ms two per frame). False when the send
   * fails at once.
   */
  sendRead (samples: Int16Array, gap = false): boolean {
    if (this.closing) return false
    const packet = this.packetBytes / 2
    if (samples.length === packet && this.readPending.length === 0) return this.sendPacket(samples, gap)
    const pending = new Int16Array(this.readPending.length + samples.length)
    pending.set(this.readPending)
    pending.set(samples, this.readPending.length)
    let at = 0
    for (; pending.length - at >= packet; at += packet) {
      if (!this.sendPacket(pending.subarray(at, at + packet), gap)) return false
    }
    this.readPending = pending.slice(at)
    return true
  }

  private sendPacket (samples: Int16Array, gap: boolean): boolean {
    const cng = gap || this.record.framesSent < this.cngFrames
    // The caller's RTP is PCMA: without `native` FreeSWITCH decodes it to L16 first.
    const alaw = cng ? undefined : encodeAlaw(samples)
    const payload = alaw === undefined ? Buffer.alloc(this.packetBytes, 0xff) : this.record.params.native ? alaw : l16(decodeAlaw(alaw))
    try {
      this.socket.send(payload, this.record.params.remotePort, this.record.params.remoteIp, (err) => {
        if (err !== null && !this.closing) this.hooks.sendFailed(this)
      })
    } catch {
      return false
    }
    this.record.framesSent++
    if (cng) this.record.cngFramesSent++
    return true
  }

  /** switch_ivr_deactivate_unicast(): stop the thread, close the socket. */
  deactivate (by: UnicastEnd): void {
    if (this.closing) return
    this.closing = true
    this.ready = false
    this.running = false
    this.pending = []
    this.record.closedMs = this.hooks.now()
    this.record.closedBy = by
    try {
      this.socket.close(() => { this.closedResolve() })
    } catch {
      this.closedResolve()
    }
  }

  private onDatagram (msg: Buffer): void {
    if (this.closing || !this.ready) return
    if (!this.running) { this.pending.push(msg); return }
    this.consume(msg)
  }

  /**
   * unicast_thread_run(): a zero-length read ends the loop; anything else is written. The thread
   * blocks in switch_socket_recv() and writes only what it received: when no datagram is waiting
   * FreeSWITCH writes nothing toward the caller (no RTP; switch_ivr_park writes silence of its
   * own only with send_silence_when_idle set), which is why our endpoint sends silence just in
   * time while idle (test/simulator/unicast.spec.ts "when we send nothing the caller gets no RTP").
   * Each write then waits on FreeSWITCH's RTP write timer (switch_rtp.c rtp_common_write ->
   * get_next_write_ts -> switch_core_timer_next): modelled where the caller hears it,
   * CallerEar.queueUnicast (lib/simulator/ear.ts).
   */
  private consume (msg: Buffer): void {
    if (!this.ready || !this.running) return
    if (msg.length === 0) {
      this.ready = false
      this.running = false
      this.record.threadStopped = true
      return
    }
    this.record.datagramsReceived++
    const data = msg.length > MAX_DATAGRAM ? msg.subarray(0, MAX_DATAGRAM) : msg
    const pcm = this.record.params.native ? l16(decodeAlaw(data)) : data
    const now = this.hooks.now()
    const bytes = this.packetBytes
    // Every datagram is received into the same buffer at offset 0 (unicast_thread_run).
    pcm.copy(this.writeBuffer, 0, 0, Math.min(pcm.length, MAX_DATAGRAM))
    if (pcm.length < bytes && this.raw.length === 0) {
      // switch_core_session_write_frame (switch_core_media.c 16186-16199): unicast's codec has the
      // write codec's packet size (`perfect`), and a shorter frame is "padded" by
      // memset(data, 255, packet - datalen) at the *start* of the buffer, over our first samples,
      // then sent as a whole packet, taking in whatever the buffer held past our datagram. Checked
      // on a real FreeSWITCH (helpers 15a and 16a, 2026-12-03): at ptime 30 a 320-byte datagram left
      // as 10 ms of -1, its second half, then the last 10 ms of the datagram before it (zeros if
      // none was longer); a 160-byte one was lost whole; one packet per 30 ms write tick.
      this.writeBuffer.fill(0xff, 0, bytes - pcm.length)
      this.hooks.write(samplesOf(this.writeBuffer.subarray(0, bytes)), now)
      return
    }
    this.raw = this.raw.length === 0 ? Buffer.from(pcm) : Buffer.concat([this.raw, pcm])
    while (this.raw.length >= bytes) {
      this.hooks.write(samplesOf(this.raw.subarray(0, bytes)), now)
      this.raw = this.raw.subarray(bytes)
    }
  }
}

function samplesOf (bytes: Buffer): Int16Array {
  const out = new Int16Array(bytes.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = bytes.readInt16LE(i * 2)
  return out
}

function l16 (samples: Int16Array): Buffer {
  const buf = Buffer.alloc(samples.length * 2)
  for (let i = 0; i < samples.length; i++) buf.writeInt16LE(samples[i] as number, i * 2)
  return buf
}
