import type { Logger } from 'pino'
import type { Channel } from '../freeswitch/channel.ts'
import type { MediaStreamConfig, TransferTarget } from './config.ts'
import type { DialGuard } from '../guard/index.ts'
import type { LlmProvider } from '../llm/types.ts'
import type { SttProvider } from '../speech/stt/types.ts'
import type { CallRecorder } from '../records/types.ts'
import type { MediaPaths } from './media-paths.ts'
import type { StreamSession } from './stream/session.ts'
import type { AgentServices } from '../agent/services.ts'
import type { TurnMedia } from './turn-media.ts'
import type { Keypad } from './keypad.ts'
import type { CallStatus } from './call-status.ts'
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
  /**
   * Resolves once what the stream sent has played out to the caller (StreamSession.playedOut);
   * at once when no stream was started. The hangup verb waits for it.
   */
  readonly playedOut?: () => Promise<void>
  readonly streamConfig: MediaStreamConfig
  /** The caller's keypad: digits typed ahead and the reader waiting for them (keypad.ts). */
  readonly keypad: Keypad
  /** Answered, handed off, what the call achieved (call-status.ts). */
  readonly status: CallStatus
  /** The conversation agent's contacts, business hours and pre-rendered phrases (`agent:`). */
  readonly agent?: AgentServices | undefined
  /** How `ask` and `converse` hear and speak; files mode (record + playback) when absent. */
  readonly turnMedia?: TurnMedia | undefined
}
