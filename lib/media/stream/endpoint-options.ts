import type { Logger } from 'pino'
import { PhoneAgentError } from '../../errors.ts'
import type { PortChoice } from './bind.ts'
import type { FrameScheduler } from './scheduler.ts'
import type { UdpMux } from './udp-mux.ts'

/** FreeSWITCH's soft timer: 'timerfd' (Linux's default) or 'matrix' (switch_time.c; see writeTimer below). */
export type WriteTimer = 'timerfd' | 'matrix'

/**
 * How early a reply's frames are handed to a socket that holds them until due (the shared media
 * socket: udp-mux.ts, held-send.c), so an event loop late by up to this much does not move them.
 * At 500 calls on two cores the loop's p99 delay was 15-35 ms, and with 20 ms of lead pacing p99
 * stayed at one tick on a busy machine (12.65 and 10.2 ms with 40, 19.95 twice with 20: docs/
 * benchmarks.md, eleventh session). What is held is taken back on a pause or a clear, so barge-in
 * is not delayed by it; two frames, not more, so what a pause takes back is nearly always one
 * sentence's and goes back in the queue (OutboundQueue.unsend).
 */
export const HOLD_AHEAD_MS = 40

/** The options and counters of a MediaEndpoint (endpoint.ts). */

export interface AddressPort { readonly address: string, readonly port: number }

/** A frame we sent: its bytes, when, and the same as samples (both valid only during the call). */
export type SentListener = (frame: Buffer, sentAt: number, samples: Int16Array) => void

export interface MediaEndpointOptions {
  /** The channel's rate: 8000, or 16000 for wideband codecs. */
  readonly rate: number
  /** Local address to bind (default 127.0.0.1: FreeSWITCH on the same host). */
  readonly bindAddress?: string | undefined
  /** A fixed port, 0 for an ephemeral one (default), or a range to pick a free port from (firewalls). */
  readonly port?: PortChoice | undefined
  /** The address FreeSWITCH should send to (`remote-ip`), when it differs from the bound one (NAT, 0.0.0.0). */
  readonly advertisedAddress?: string | undefined
  /** FreeSWITCH's address when known up front (its `local-ip`/`local-port`): locks the source at once. */
  readonly peer?: AddressPort | undefined
  /**
   * Frames sent ahead of real time while speaking, so timer jitter never starves FreeSWITCH (0-2,
   * default 1). While nothing is queued no frame is sent ahead: silence goes out just in time.
   */
  readonly leadFrames?: number | undefined
  /**
   * How early a reply's frames go to a socket that holds them until due (the shared media socket;
   * default HOLD_AHEAD_MS; 0: none ahead). Not on the matrix write timer, nor on a socket of the
   * call's own. Whatever this is, a slot a wake-up serves early (the scheduler's coalesceMs, up to
   * 3 ms) goes to a holding socket with its due time and leaves then.
   */
  readonly holdAheadMs?: number | undefined
  /**
   * The soft timer FreeSWITCH's RTP write timer runs on (`media.stream.writeTimer`, whose default
   * is 'timerfd'; here the default is 'matrix', the behaviour that is right on both).
   * 'matrix' (switch_time.c timer_next): after two idle ticks the next write waits for the tick,
   * so idle silence keeps the timer warm for `warmIdleMs` and is placed just before each write
   * tick. 'timerfd' (_timerfd_next, Linux's default): a write after idle ticks goes out at once,
   * so no warm window (a quiet line gets the keep-alive frame only) and no tick placement: a
   * reply's first frame goes to the socket the moment it is ready.
   */
  readonly writeTimer?: WriteTimer | undefined
  /**
   * With the matrix write timer: send idle silence just before FreeSWITCH's RTP write ticks,
   * placed from the arrival of its frames (default true), so a reply's first frame finds its tick
   * free (call-pacer.ts). With timerfd there is no idle silence to place.
   */
  readonly alignToWriteTicks?: boolean | undefined
  /**
   * How long after the caller's last sound or our last audio idle silence still goes out on every
   * write tick (default 5000 ms with the matrix write timer, 0 with timerfd; Infinity: always).
   * After that a quiet call sends one silence frame a second, and on the matrix timer a reply
   * that starts then may wait up to a tick longer (quiet-idle.ts).
   */
  readonly warmIdleMs?: number | undefined
  /** Inbound frames a slow `frames()` consumer may fall behind before the oldest are dropped (default 50: 1 s). */
  readonly maxBufferedFrames?: number | undefined
  /**
   * Connect the socket to FreeSWITCH once its address is known (default true): sends carry no
   * address and the kernel drops everyone else's datagrams. Off, our own check drops and counts them.
   */
  readonly connect?: boolean | undefined
  /**
   * The process's shared media socket (udp-mux.ts): the call's datagrams are those from `peer`,
   * which must then be given; without it, or without `peer`, the call binds a socket of its own.
   */
  readonly mux?: UdpMux | undefined
  readonly scheduler?: FrameScheduler | undefined
  /** Aborting it closes the endpoint (the call's signal). */
  readonly signal?: AbortSignal | undefined
  readonly logger: Logger
}

export interface MediaEndpointStats {
  /** Audio datagrams accepted from FreeSWITCH. */
  readonly received: number
  /** All-0xFF datagrams seen before the caller's first RTP (dropped). */
  readonly preRtp: number
  /** All-0xFF datagrams after it: the caller's RTP paused (delivered as silence). */
  readonly rtpGap: number
  /**
   * Datagrams from any address but the locked one, seen before the socket was connected to it;
   * once connected the kernel drops them before they reach us.
   */
  readonly droppedForeign: number
  /** Datagrams of odd length or larger than a 60 ms frame. */
  readonly droppedMalformed: number
  /** Frames sent to FreeSWITCH, of which `silenceSent` were silence. */
  readonly sent: number
  readonly silenceSent: number
  /** Inbound frames lost because a frames() consumer fell behind. */
  readonly droppedSlowConsumer: number
  /** Send failures seen (connected, one send in 50 carries a callback: a lasting failure is seen within a second). */
  readonly sendErrors: number
  /** Send buffers added because all of the call's were still in flight (0 in steady state). */
  readonly sendBuffersGrown: number
  /** Frames held by the socket (served ahead) and taken back by a pause or a clear before they were due. */
  readonly heldTakenBack: number
  /** Audio queued while the call was cold (quiet-idle.ts) on the matrix write timer: its first frame may be written a tick late. */
  readonly coldStarts: number
  /** Idle silence frames not sent because a frame of ours already held that write tick. */
  readonly idleSkipped: number
  /** Idle silence frames left out to drain a lag a FreeSWITCH stall may have left (call-pacer.ts). */
  readonly drainSkipped: number
}

/** The address FreeSWITCH is told to send to: a wildcard bind needs one it can reach. */
export function advertisedAddressOf (options: Pick<MediaEndpointOptions, 'bindAddress' | 'advertisedAddress'>): string {
  const advertised = options.advertisedAddress ?? options.bindAddress ?? '127.0.0.1'
  if (advertised === '0.0.0.0' || advertised === '::') {
    throw new PhoneAgentError('CONFIG_INVALID', 'unicast: binding a wildcard address needs an advertised address FreeSWITCH can reach')
  }
  return advertised
}
