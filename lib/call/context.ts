import type { Logger } from 'pino'
import type { Channel } from '../freeswitch/channel.ts'
import type { MediaStreamConfig, TransferTarget } from './config.ts'
import type { DialGuard } from '../guard/index.ts'
import type { LlmProvider } from '../llm/types.ts'
import type { SttProvider } from '../speech/stt/types.ts'
import type { CallRecorder } from '../records/types.ts'
import type { CallOutcome } from '../records/types.ts'
import type { MediaPaths } from './media-paths.ts'
import type { StreamSession } from './stream/session.ts'
import type { StreamTurnMedia } from './turn-media-stream.ts'
import type { AgentServices } from '../agent/services.ts'
import type { TurnMedia } from './turn-media.ts'
import type { Speaker } from '../speech/types.ts'

/** The speaker is speech's own interface (lib/speech/types.ts); re-exported for the verbs. */
export type { Speaker }

/** Everything a verb may use, passed in; verbs reach for no globals. */
export interface VerbContext {
  readonly channel: Channel
  readonly media: MediaPaths
  readonly speaker: Speaker
  /** Configured speech-to-text and language model; undefined when the config names none. */
  readonly stt: SttProvider | undefined
  readonly llm: LlmProvider | undefined
  readonly transfers: Readonly<Record<string, TransferTarget>>
  /** Premium/satellite/country checks for any external number a transfer would ring. */
  readonly dial: DialGuard
  readonly log: Logger
  /** The call's record, written as the call progresses (never throws). */
  readonly recorder: CallRecorder
  /** The call's signal: aborted on hangup or socket close with a typed reason. */
  readonly signal: AbortSignal
  readonly language: string
  readonly voice: string | undefined
  readonly commandTimeoutMs: number
  /** `files`: FreeSWITCH playback/record. `stream`: everything over the unicast UDP stream. */
  readonly mediaMode: 'files' | 'stream'
  /** The call's stream (stream mode): started on first use, after answering. */
  readonly stream: () => Promise<StreamSession>
  readonly streamConfig: MediaStreamConfig
  /** Mutable per-call state the verbs share. */
  readonly state: CallState
  /** The conversation agent's contacts, business hours and pre-rendered phrases (`agent:`). */
  readonly agent?: AgentServices | undefined
  /** How `ask` and `converse` hear and speak; files mode (record + playback) when absent. */
  readonly turnMedia?: TurnMedia | undefined
}

export interface CallState {
  /** Digits typed ahead of a `digits()` call, oldest first. */
  dtmfBuffer: string[]
  /** Set once the call was handed to someone else: our side must not hang it up. */
  handedOff: boolean
  recordings: number
  answered: boolean
  /**
   * What the call achieved so far, for the record: a verb that takes a message or transfers
   * says so; otherwise the runner decides (completed, caller hung up, failed).
   */
  outcome: CallOutcome | undefined
  /** Stream mode: the call's one turn media (frame subscription, speech carried over a barge-in). */
  streamTurnMedia?: StreamTurnMedia | undefined
  /** The caller's-leg bridge variables (transfer/bridge-variables.ts), set once per call. */
  bridgeVariables?: Promise<void> | undefined
  /** The pending `digits()` call, fed by the DTMF listener instead of the buffer. */
  digitWaiter: ((digit: string) => void) | undefined
}
