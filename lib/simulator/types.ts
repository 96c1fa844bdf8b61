import type { Logger } from 'pino'
import type { HeardFrame, WriteTimer } from './ear.ts'
import type { EventFormat } from './events.ts'
import type { UnicastEngine, UnicastRecord } from './unicast.ts'
import type { LegRecord } from './legs.ts'
import type { Header } from './wire.ts'

/** Who ended the call, as the simulator saw it. */
export type HangupBy =
  | 'caller' // call.hangup(), caller.hangupAtMs, or a bridged/transferred far end
  | 'server' // sendmsg hangup, the hangup app, api uuid_kill, an unknown application, a failed record
  | 'socket-closed' // the Event Socket went away (our close, call.dropSocket(), exit) while the call was up
  | 'timeout' // the simulator's safety limit (maxCallMs)

export interface BridgeOutcome {
  /**
   * 'answer': the far end answers after ringMs and hangs up durationMs later. 'fail': originate
   * fails with `cause` after ringMs (busy, refused by the dialplan: OUTGOING_CALL_BARRED).
   * 'no-answer': it rings until originate_timeout (or ringMs), then NO_ANSWER.
   */
  readonly outcome: 'answer' | 'fail' | 'no-answer'
  readonly durationMs?: number
  readonly ringMs?: number
  readonly cause?: string
}

export interface CallerScript {
  /** Caller speech: WAV path, WAV buffer or raw 8 kHz L16 PCM, placed at atMs on the call timeline. */
  readonly audio?: ReadonlyArray<{ atMs: number, wav: string | Buffer }>
  readonly dtmf?: ReadonlyArray<{ atMs: number, digit: string }>
  readonly hangupAtMs?: number
  /**
   * Times the caller's RTP stops (silence suppression, packet loss): FreeSWITCH's park loop then
   * sends all-0xFF unicast datagrams (switch_ivr.c switch_ivr_park: SFF_CNG -> memset 255).
   */
  readonly rtpGaps?: ReadonlyArray<{ atMs: number, durationMs: number }>
  /** The caller puts us on hold: a phone on hold sends no RTP, so the same as a gap on our side. */
  readonly hold?: ReadonlyArray<{ atMs: number, durationMs: number }>
  /**
   * The caller's packets from `atMs` on arrive `lateMs` late (network jitter), with those due in
   * the meantime: FreeSWITCH reads CNG frames for the ticks that found none, then every later frame
   * that many ticks behind the wire for the rest of the call (caller.ts readSegments).
   */
  readonly rtpLate?: ReadonlyArray<{ atMs: number, lateMs: number }>
  /** The caller's line echoes what the caller hears back into their RTP (see line-echo.ts). */
  readonly echo?: CallerEcho
}

/** Line or handset echo: what the caller heard comes back in what they send, late and quieter. */
export interface CallerEcho {
  /** From the moment the caller heard a sample to its echo in their audio: 20-2000 ms (real: 20-300). */
  readonly delayMs: number
  /** Echo return loss in dB at 1 kHz: 6 is the worst a hybrid should give, 6-15 is usual, handsets 40+. */
  readonly attenuationDb: number
  /** Echo path shape: 'hybrid' (default; band-limited, a second reflection), 'handset' (~10 ms of reflections), 'none' (a pure copy). */
  readonly filter?: 'hybrid' | 'handset' | 'none'
  /** Line noise added to every frame the caller sends, RMS dBFS (e.g. -55); default none. */
  readonly noiseDb?: number
  /** Seed of the line noise (default 1). */
  readonly seed?: number
}

export interface PlaceCallOptions {
  readonly host?: string
  readonly port: number
  readonly destination?: string
  readonly callerNumber?: string
  readonly callerName?: string
  /** The INVITE's source address (`variable_sip_network_ip`, `Caller-Network-Addr`); default 192.0.2.10. */
  readonly sourceIp?: string
  readonly uuid?: string
  /** Extra channel variables (they appear as variable_<name>). */
  readonly variables?: Readonly<Record<string, string>>
  /** The dialplan ran `answer` before `socket`: the connect reply says Answer-State: answered. */
  readonly answeredBeforeSocket?: boolean
  /** Header names left out of the connect reply. */
  readonly omitHeaders?: readonly string[]
  readonly caller?: CallerScript
  /** The dialplan's `socket` arguments; default 'async full'. */
  readonly socketMode?: 'async full' | 'async' | 'full' | ''
  /** What `bridge` and an originated leg do; default answered at once, a 1 s conversation. */
  readonly bridge?: BridgeOutcome
  /** How long a transferred call lives in the dialplan before the far end hangs up; default 500 ms. */
  readonly transferLegMs?: number
  /**
   * The cause the transferred call ends with: NORMAL_CLEARING (default), or the dialplan's
   * refusal, e.g. OUTGOING_CALL_BARRED from the pack's outbound premium block (its `hangup`
   * action runs without a bridge).
   */
  readonly transferHangupCause?: string
  /** Safety limit: the caller hangs up after this long; default 10 minutes. */
  readonly maxCallMs?: number
  /** How long FreeSWITCH waits for the first command (read_packet timeout 25 s in listener_run). */
  readonly connectTimeoutMs?: number
  /**
   * How many 0xFF frames (SFF_CNG: no caller RTP in yet) each unicast stream starts with before
   * the caller's audio; default 3.
   */
  readonly unicastCngFrames?: number
  /**
   * The call's packet time (`a=ptime` of the caller's offer, which FreeSWITCH keeps: helper 15a,
   * docs/freeswitch-pack.md), 10-60 ms in steps of 10; default 20. Unicast's L16 codec is made at
   * it: each datagram either way is one packet, and ours are written one per packet tick
   * (ear.ts queueUnicast, unicast.ts consume). Not modelled by a `unicastEngine`.
   */
  readonly ptimeMs?: number
  /**
   * Carries this call's unicast media in another process (the load bench's native generator);
   * default: in this process, frame by frame in the park loop.
   */
  readonly unicastEngine?: UnicastEngine
  /**
   * The soft timer FreeSWITCH writes our unicast frames on (ear.ts WriteTimer, queueUnicast):
   * 'matrix', the stricter (a build without timerfd, or enable-monotonic-timing=false), 'timerfd',
   * Linux's default, or 'sleep' (enable-softtimer-timerfd=false on Linux: 20 ms before every
   * write). Default: the FakeFreeSwitch's, else 'matrix'.
   */
  readonly writeTimer?: WriteTimer
}

export interface FakeFreeSwitchOptions {
  readonly logger?: Logger
  /** Where relative file names resolve (FreeSWITCH uses sound_prefix or its base dir). */
  readonly baseDir?: string
  /** Every call's write timer unless placeCall() says otherwise (PlaceCallOptions.writeTimer); default 'matrix'. */
  readonly writeTimer?: WriteTimer
}

export interface ExecutedApp {
  readonly name: string
  readonly arg: string
  /** Application-UUID: our Event-UUID when we sent one, otherwise one FreeSWITCH made up. */
  readonly appUuid: string
  readonly startMs: number
  endMs?: number
  response?: string
  /** True when it ran inside another application (no event-lock on a busy channel). */
  readonly nested: boolean
}

export interface PlayedFile {
  readonly path: string
  readonly startMs: number
  endMs: number
  status: 'done' | 'break' | 'hangup' | 'not-found'
}

export interface Recording {
  readonly path: string
  readonly startMs: number
  endMs: number
  reason: 'silence' | 'limit' | 'dtmf' | 'break' | 'hangup' | 'open-failed'
  samples: number
}

export interface FiredEvent {
  readonly name: string
  readonly atMs: number
  readonly headers: readonly Header[]
  readonly body: string | undefined
  /** Whether it was written to the socket (subscribed, passed filters, socket open). */
  readonly delivered: boolean
  readonly format: EventFormat | undefined
}

export interface CallResult {
  readonly uuid: string
  /** Every packet our server sent, exactly as received (header block and body). */
  readonly commands: readonly string[]
  readonly connected: boolean
  readonly answered: boolean
  readonly hangupCause: string | undefined
  readonly hungUpBy: HangupBy | undefined
  readonly exitReceived: boolean
  readonly linger: boolean
  readonly apps: readonly ExecutedApp[]
  readonly played: readonly PlayedFile[]
  readonly recordings: readonly Recording[]
  readonly events: readonly FiredEvent[]
  readonly variables: Readonly<Record<string, string>>
  readonly transfer: { readonly to: string, readonly dialplan?: string, readonly context?: string, readonly atMs: number } | undefined
  /** Commands FreeSWITCH acknowledged (+OK) but never ran: still queued when control ended. */
  readonly unexecuted: readonly string[]
  /** Raw frames written to the socket, in order. */
  readonly written: readonly string[]
  /** Every `call-command: unicast`, in order, with what became of it. */
  readonly unicast: readonly UnicastRecord[]
  /** Legs our server originated (`originate ... &park()`), with how each ended. */
  readonly legs: readonly LegRecord[]
  /** Originated legs still up when the call ended: orphans a real FreeSWITCH would keep. */
  readonly orphanLegs: readonly LegRecord[]
  /** Every frame the caller heard (our datagrams and played files), in the order written. */
  readonly heard: readonly HeardFrame[]
  readonly endedAtMs: number
}
