import type { Logger } from 'pino'
import type { HeardFrame } from './ear.ts'
import type { EventFormat } from './events.ts'
import type { UnicastRecord } from './unicast.ts'
import type { Header } from './wire.ts'

/** Who ended the call, as the simulator saw it. */
export type HangupBy =
  | 'caller' // call.hangup(), caller.hangupAtMs, or a bridged/transferred far end
  | 'server' // sendmsg hangup, the hangup app, api uuid_kill, an unknown application, a failed record
  | 'socket-closed' // the Event Socket went away (our close, call.dropSocket(), exit) while the call was up
  | 'timeout' // the simulator's safety limit (maxCallMs)

export interface BridgeOutcome {
  /** 'answer': the far end answers and hangs up after durationMs. 'fail': originate fails with cause. */
  readonly outcome: 'answer' | 'fail'
  readonly durationMs?: number
  readonly cause?: string
}

export interface CallerScript {
  /** Caller speech: WAV path, WAV buffer or raw 8 kHz L16 PCM, placed at atMs on the call timeline. */
  readonly audio?: ReadonlyArray<{ atMs: number, wav: string | Buffer }>
  readonly dtmf?: ReadonlyArray<{ atMs: number, digit: string }>
  readonly hangupAtMs?: number
}

export interface PlaceCallOptions {
  readonly host?: string
  readonly port: number
  readonly destination?: string
  readonly callerNumber?: string
  readonly callerName?: string
  readonly uuid?: string
  /** Extra channel variables (they appear as variable_<name>). */
  readonly variables?: Readonly<Record<string, string>>
  /** Header names left out of the connect reply. */
  readonly omitHeaders?: readonly string[]
  readonly caller?: CallerScript
  /** The dialplan's `socket` arguments; default 'async full'. */
  readonly socketMode?: 'async full' | 'async' | 'full' | ''
  /** What `bridge` does; default a 1 s answered bridge. */
  readonly bridge?: BridgeOutcome
  /** How long a transferred call lives in the dialplan before the far end hangs up; default 500 ms. */
  readonly transferLegMs?: number
  /** Safety limit: the caller hangs up after this long; default 10 minutes. */
  readonly maxCallMs?: number
  /** How long FreeSWITCH waits for the first command (read_packet timeout 25 s in listener_run). */
  readonly connectTimeoutMs?: number
  /**
   * How many 0xFF frames (SFF_CNG: no caller RTP in yet) each unicast stream starts with before
   * the caller's audio; default 3.
   */
  readonly unicastCngFrames?: number
}

export interface FakeFreeSwitchOptions {
  readonly logger?: Logger
  /** Where relative file names resolve (FreeSWITCH uses sound_prefix or its base dir). */
  readonly baseDir?: string
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
  /** Every frame the caller heard (our datagrams and played files), in the order written. */
  readonly heard: readonly HeardFrame[]
  readonly endedAtMs: number
}
