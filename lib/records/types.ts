import type { SqlDriver } from './sql.ts'

/**
 * Call records: what the call core reports as a call progresses, and what the CLI reads back.
 *
 * All times are epoch milliseconds (`Date.now()`); latency marks may carry fractions
 * (`performance.timeOrigin + performance.now()`) since only their differences are shown.
 */

/**
 * How a call ended. `interrupted` is never passed by callers: start-up recovery sets it.
 * `handshake_failed`: the connect reply came, the Event Socket setup after it did not finish.
 */
export const CALL_OUTCOMES = [
  'completed', 'transferred', 'voicemail', 'message_taken', 'rejected', 'failed', 'caller_hung_up', 'handshake_failed',
] as const
export type CallOutcome = typeof CALL_OUTCOMES[number]
export type RecordedOutcome = CallOutcome | 'interrupted'
export const RECORDED_OUTCOMES: readonly RecordedOutcome[] = [...CALL_OUTCOMES, 'interrupted']

export type TurnRole = 'caller' | 'agent'

export interface CallStart {
  /** FreeSWITCH channel UUID (Unique-ID); the record's key. */
  readonly uuid: string
  /** Dialled number, E.164 when it could be normalised. */
  readonly did: string
  readonly callerNumber?: string | undefined
  /** Caller ID name as the network sent it: caller-controlled text. */
  readonly callerName?: string | undefined
  readonly script?: string | undefined
  readonly mediaMode?: string | undefined
  readonly startedAt?: number | undefined
  /** The whole-call recording's file, when the call is to be recorded (cleared at the end if none was made). */
  readonly recordingPath?: string | undefined
}

export interface TurnInput {
  readonly role: TurnRole
  /** What was actually heard: for a barged-in agent turn, the truncated text. */
  readonly text: string
  readonly at?: number | undefined
  readonly interrupted?: boolean | undefined
}

/**
 * One reply's waterfall. `turn` is the caller's turn number as the call core counts it; a
 * second report for the same turn replaces the first. Missing marks are stages that did not
 * happen (a barge-in before any audio, a canned reply with no LLM).
 */
export interface LatencyInput {
  readonly turn: number
  readonly speechEndAt?: number | undefined
  readonly sttFinalAt?: number | undefined
  readonly llmFirstTokenAt?: number | undefined
  readonly firstSentenceAt?: number | undefined
  readonly ttsAudioAt?: number | undefined
  readonly firstFrameAt?: number | undefined
}

/**
 * A message's row, as it goes through a recording: `recording` from the moment the recording
 * starts (so a crash cannot lose the link to the file), `complete` when it ended normally,
 * `recovered` when start-up repaired the file a crashed process left, `lost` when that file
 * was missing or held no audio.
 */
export const MESSAGE_STATUSES = ['recording', 'complete', 'recovered', 'lost'] as const
export type MessageStatus = typeof MESSAGE_STATUSES[number]

export interface MessageInput {
  readonly name?: string | undefined
  readonly number?: string | undefined
  readonly text: string
  readonly recordingPath?: string | undefined
  readonly at?: number | undefined
  /**
   * Default `complete`. `recording` opens the row when a recording starts; a later report with
   * the same `recordingPath` completes it (`complete`) or removes it (`discarded`: the
   * recording turned out empty, and an empty recording is not a message).
   */
  readonly status?: 'recording' | 'complete' | 'discarded' | undefined
  readonly durationMs?: number | undefined
}

export interface ErrorInput {
  /** A PhoneAgentError code (or another stable code); never message text. */
  readonly code: string
  readonly message: string
  /** `stt`, `llm`, `tts` or the vendor name, when a provider failed. */
  readonly provider?: string | undefined
  readonly at?: number | undefined
}

/** Amounts to ADD to the call's totals: report per turn or once at the end, both work. */
export interface UsageInput {
  readonly sttSeconds?: number | undefined
  readonly llmInputTokens?: number | undefined
  readonly llmOutputTokens?: number | undefined
  readonly ttsCharacters?: number | undefined
  readonly costEstimate?: number | undefined
  /** Preemptive replies started at a short pause and thrown away because the caller went on. */
  readonly preemptiveDiscarded?: number | undefined
}

export interface EndInput {
  readonly outcome: CallOutcome
  readonly hangupCause?: string | undefined
  readonly endedAt?: number | undefined
  /** For `failed`: the error code. Defaults to the last code passed to `error()`. */
  readonly errorCode?: string | undefined
  /** For a call begun with a `recordingPath`: its length, or null when nothing was recorded. */
  readonly recording?: CallRecordingResult | undefined
}

/** What became of a whole-call recording: its length, or null (none made; the record's path is cleared). */
export type CallRecordingResult = { readonly durationMs: number } | null

/**
 * The per-call writer. Every method returns at once and never throws: writes are queued and
 * committed in batches, and a storage failure is logged, never thrown into the call.
 */
export interface CallRecorder {
  readonly uuid: string
  /** Admission refused the call; `reason` is a short stable word (`anonymous`, `rate_limit`). */
  rejected (reason: string): void
  answered (at?: number): void
  /** Who the caller turned out to be (a contact name from a script or lookup). */
  contact (name: string): void
  turn (turn: TurnInput): void
  latency (latency: LatencyInput): void
  message (message: MessageInput): void
  error (error: ErrorInput): void
  usage (usage: UsageInput): void
  /** Resolves once the record is committed (or the failure logged); never rejects. Later calls are ignored. */
  end (end: EndInput): Promise<void>
}

export interface CallFilter {
  readonly since?: number | undefined
  readonly until?: number | undefined
  readonly did?: string | undefined
  readonly caller?: string | undefined
  readonly outcomes?: readonly RecordedOutcome[] | undefined
  /** Newest first; default 100. */
  readonly limit?: number | undefined
}

export interface CallSummary {
  readonly uuid: string
  readonly instance: string
  readonly did: string
  readonly callerNumber: string | null
  readonly callerName: string | null
  readonly contact: string | null
  readonly script: string | null
  readonly mediaMode: string | null
  readonly startedAt: number
  readonly answeredAt: number | null
  readonly endedAt: number | null
  /** endedAt - startedAt; null while the call is in progress. */
  readonly durationMs: number | null
  /** Null while the call is in progress. */
  readonly outcome: RecordedOutcome | null
  readonly rejectionReason: string | null
  readonly errorCode: string | null
  readonly hangupCause: string | null
  readonly sttSeconds: number
  readonly llmInputTokens: number
  readonly llmOutputTokens: number
  readonly ttsCharacters: number
  readonly costEstimate: number
  /** Preemptive replies discarded because the caller went on (their tokens are in the counts above). */
  readonly preemptiveDiscarded: number
}

export interface TurnRecord {
  readonly seq: number
  readonly role: TurnRole
  readonly text: string
  readonly at: number
  readonly interrupted: boolean
}

/**
 * A reply's waterfall, as stored. `speechEndAt` is the end of the caller's last voiced frame
 * (counted back from the end of the frame that confirmed the end silence); `firstFrameAt` is
 * when the reply's first frame was handed to FreeSWITCH (stream mode: the unicast socket, after
 * any wait for the 20 ms frame clock; files mode: its playback started). See `latencyParts`.
 */
export interface LatencyRecord {
  readonly turn: number
  readonly speechEndAt: number | null
  readonly sttFinalAt: number | null
  readonly llmFirstTokenAt: number | null
  readonly firstSentenceAt: number | null
  readonly ttsAudioAt: number | null
  readonly firstFrameAt: number | null
}

/**
 * A reply's time in two separate numbers (`latencyParts` in show.ts): `processingMs` from the end
 * of the caller's speech to the reply's first audio in hand (end silence, recognition, model,
 * synthesis, and our own work between them); `alignmentMs` from that audio in hand to its first
 * frame leaving (the wait for the frame clock and for the line). Null where a mark is missing.
 */
export interface LatencyParts {
  readonly processingMs: number | null
  readonly alignmentMs: number | null
}

export interface MessageRecord {
  readonly seq: number
  readonly name: string | null
  readonly number: string | null
  readonly text: string
  readonly recordingPath: string | null
  readonly at: number
  readonly status: MessageStatus
  /** Length of the recording; null for a message with none (a note the agent took). */
  readonly durationMs: number | null
}

/** A message row still `recording` when start-up ran: its process died mid-recording. */
export interface OpenMessage {
  readonly callUuid: string
  readonly seq: number
  readonly recordingPath: string | null
}

export interface ErrorRecord {
  readonly seq: number
  readonly code: string
  readonly message: string
  readonly provider: string | null
  readonly at: number
}

export interface CallDetail extends CallSummary {
  /** The whole-call recording (stereo: caller left, agent right), or null. */
  readonly recordingPath: string | null
  /** Its length; null while recording, or after a crash until start-up repaired it. */
  readonly recordingMs: number | null
  readonly turns: readonly TurnRecord[]
  readonly latency: readonly LatencyRecord[]
  readonly messages: readonly MessageRecord[]
  readonly errors: readonly ErrorRecord[]
}

/**
 * Told about each event as it is recorded, so metrics come from the same calls as records.
 * `lib/ops/metrics.ts` implements it.
 */
export interface CallObserver {
  callStarted (): void
  callEnded (outcome: CallOutcome): void
  admissionRejected (reason: string): void
  turnLatency (latency: LatencyInput): void
  callError (error: ErrorInput): void
  recordWriteFailed (): void
  /** Preemptive replies discarded (optional: observers written before them). */
  preemptiveDiscarded? (count: number): void
}

export interface CallStore {
  readonly driver: 'sqlite' | 'postgres'
  /** The database, for the tables other modules own (notification outbox, transcripts, retention: lib/records/owner-sql.ts). */
  readonly sql: SqlDriver
  /** Start a record; the row reaches storage with the next batch (within one event-loop turn). */
  begin (start: CallStart): CallRecorder
  /**
   * Mark records a crashed process left open as `interrupted`; call once at `serve` start-up,
   * before taking calls (never from the CLI, which may run beside a live server). SQLite: every
   * open record. PostgreSQL: only this instance's, since other instances may be live.
   */
  recoverInterrupted (): Promise<number>
  /**
   * Mark these calls' records `interrupted` if still open: the calls of a worker process that
   * died (lib/cluster), while the other workers' calls go on.
   */
  interruptCalls (uuids: readonly string[]): Promise<number>
  /** Message rows left `recording` (same scope and same rule as `recoverInterrupted`). */
  openMessages (): Promise<OpenMessage[]>
  /** Close one open message row after start-up looked at its file. */
  settleMessage (message: OpenMessage, outcome: { readonly status: 'recovered' | 'lost', readonly durationMs: number | null }): Promise<void>
  list (filter?: CallFilter): Promise<CallSummary[]>
  get (uuid: string): Promise<CallDetail | undefined>
  /** Resolves once every write queued so far is committed or logged as failed. */
  flush (): Promise<void>
  /** Flushes, then closes the database. Recorders used afterwards drop their writes (logged). */
  close (): Promise<void>
}
