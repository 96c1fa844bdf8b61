import {
  MESSAGE_STATUSES, type CallDetail, type CallFilter, type CallSummary, type ErrorInput, type ErrorRecord, type LatencyInput,
  type LatencyRecord, type MessageInput, type MessageRecord, type MessageStatus, type OpenMessage, type RecordedOutcome,
  type TurnRecord, type TurnRole, type UsageInput,
} from './types.ts'
import type { Migration } from './migrations.ts'

/**
 * The SQL shared by both drivers. Placeholders are `?`; the PostgreSQL driver numbers them.
 * None of these statements contain a literal `?`, which is what makes that rewrite safe.
 */

export type SqlValue = string | number | null

export interface Statement {
  readonly sql: string
  readonly params: readonly SqlValue[]
}

export type Row = Record<string, unknown>

export interface SqlDriver {
  readonly dialect: 'sqlite' | 'postgres'
  /** Runs the statements in one transaction: all or nothing. */
  transaction (statements: readonly Statement[]): Promise<void>
  all (sql: string, params: readonly SqlValue[]): Promise<Row[]>
  /** Returns the number of rows changed. */
  run (sql: string, params: readonly SqlValue[]): Promise<number>
  /** Applies the migrations not yet in schema_migrations; returns the versions applied. */
  migrate (migrations: readonly Migration[]): Promise<number[]>
  /** True when the database could not be reached (worth retrying), not when a statement failed. */
  isConnectionError (err: unknown): boolean
  close (): Promise<void>
}

export interface BeginRow {
  readonly uuid: string
  readonly instance: string
  readonly did: string
  readonly callerNumber: string | null
  readonly callerName: string | null
  readonly script: string | null
  readonly mediaMode: string | null
  readonly startedAt: number
}

/** One queued write. `queuedAt` feeds `last_activity_at`, the end time given to interrupted records. */
export type WriteOp = { readonly uuid: string, readonly queuedAt: number } & (
  | { readonly kind: 'begin', readonly row: BeginRow }
  | { readonly kind: 'set', readonly column: 'answered_at' | 'contact' | 'rejection_reason' | 'recording_path' | 'recording_ms', readonly value: SqlValue }
  | { readonly kind: 'turn', readonly seq: number, readonly role: TurnRole, readonly text: string, readonly at: number, readonly interrupted: boolean }
  | { readonly kind: 'latency', readonly latency: LatencyInput }
  | { readonly kind: 'message', readonly seq: number, readonly message: MessageInput, readonly at: number }
  | { readonly kind: 'error', readonly seq: number, readonly error: ErrorInput, readonly at: number }
  | { readonly kind: 'usage', readonly usage: UsageInput }
  | { readonly kind: 'end', readonly outcome: RecordedOutcome, readonly hangupCause: string | null, readonly endedAt: number, readonly errorCode: string | null }
  /** The call is still live: only `last_activity_at` moves (a crash then ends it near the truth). */
  | { readonly kind: 'touch' }
)

const n = (v: number | undefined): number | null => v === undefined || !Number.isFinite(v) ? null : v
const s = (v: string | undefined): string | null => v === undefined ? null : v

export function opStatements (op: WriteOp): Statement[] {
  switch (op.kind) {
    case 'begin': {
      const r = op.row
      // DO NOTHING: a UUID seen twice (a retried batch, a reconnecting channel) keeps its first record.
      return [{
        sql: `INSERT INTO calls (uuid, instance, did, caller_number, caller_name, script, media_mode, started_at, last_activity_at)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (uuid) DO NOTHING`,
        params: [r.uuid, r.instance, r.did, r.callerNumber, r.callerName, r.script, r.mediaMode, r.startedAt, op.queuedAt],
      }]
    }
    case 'set':
      // The column name comes from the closed union above, never from input.
      return [{ sql: `UPDATE calls SET ${op.column} = ? WHERE uuid = ?`, params: [op.value, op.uuid] }]
    case 'turn':
      return [{
        sql: 'INSERT INTO call_turns (call_uuid, seq, role, text, at, interrupted) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (call_uuid, seq) DO NOTHING',
        params: [op.uuid, op.seq, op.role, op.text, op.at, op.interrupted ? 1 : 0],
      }]
    case 'latency': {
      const l = op.latency
      return [{
        sql: `INSERT INTO call_latency (call_uuid, turn, speech_end_at, stt_final_at, llm_first_token_at, first_sentence_at, tts_audio_at, first_frame_at)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?)
              ON CONFLICT (call_uuid, turn) DO UPDATE SET speech_end_at = excluded.speech_end_at,
                stt_final_at = excluded.stt_final_at, llm_first_token_at = excluded.llm_first_token_at,
                first_sentence_at = excluded.first_sentence_at, tts_audio_at = excluded.tts_audio_at,
                first_frame_at = excluded.first_frame_at`,
        params: [op.uuid, l.turn, n(l.speechEndAt), n(l.sttFinalAt), n(l.llmFirstTokenAt), n(l.firstSentenceAt), n(l.ttsAudioAt), n(l.firstFrameAt)],
      }]
    }
    case 'message': {
      const m = op.message
      if (m.status === 'discarded') {
        return [{ sql: "DELETE FROM call_messages WHERE call_uuid = ? AND seq = ? AND status = 'recording'", params: [op.uuid, op.seq] }]
      }
      const status = m.status === 'recording' ? 'recording' : 'complete'
      // A recording's row is opened once, then completed in place (the same seq); a retried
      // batch writes the same values again.
      const onConflict = status === 'recording'
        ? 'DO NOTHING'
        : `DO UPDATE SET name = excluded.name, number = excluded.number, text = excluded.text, recording_path = excluded.recording_path,
            at = excluded.at, status = excluded.status, duration_ms = excluded.duration_ms`
      const duration = n(m.durationMs)
      return [{
        sql: `INSERT INTO call_messages (call_uuid, seq, name, number, text, recording_path, at, status, duration_ms)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (call_uuid, seq) ${onConflict}`,
        params: [op.uuid, op.seq, s(m.name), s(m.number), m.text, s(m.recordingPath), op.at, status, duration === null ? null : Math.round(duration)],
      }]
    }
    case 'error': {
      const e = op.error
      return [{
        sql: 'INSERT INTO call_errors (call_uuid, seq, code, message, provider, at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (call_uuid, seq) DO NOTHING',
        params: [op.uuid, op.seq, e.code, e.message, s(e.provider), op.at],
      }]
    }
    case 'usage': {
      const u = op.usage
      return [{
        sql: `UPDATE calls SET stt_seconds = stt_seconds + ?, llm_input_tokens = llm_input_tokens + ?,
                llm_output_tokens = llm_output_tokens + ?, tts_characters = tts_characters + ?,
                cost_estimate = cost_estimate + ?, preemptive_discarded = preemptive_discarded + ? WHERE uuid = ?`,
        params: [n(u.sttSeconds) ?? 0, Math.round(n(u.llmInputTokens) ?? 0), Math.round(n(u.llmOutputTokens) ?? 0),
          Math.round(n(u.ttsCharacters) ?? 0), n(u.costEstimate) ?? 0, Math.round(n(u.preemptiveDiscarded) ?? 0), op.uuid],
      }]
    }
    case 'touch':
      return []
    case 'end':
      // `outcome IS NULL`: the first ending wins; a late duplicate cannot rewrite history.
      return [{
        sql: 'UPDATE calls SET outcome = ?, hangup_cause = ?, ended_at = ?, error_code = COALESCE(?, error_code) WHERE uuid = ? AND outcome IS NULL',
        params: [op.outcome, op.hangupCause, op.endedAt, op.errorCode, op.uuid],
      }]
  }
}

/** One `last_activity_at` bump per call touched by a batch, instead of one per write. */
export function activityStatements (ops: readonly WriteOp[]): Statement[] {
  const latest = new Map<string, number>()
  for (const op of ops) {
    if (op.kind === 'begin') continue
    latest.set(op.uuid, Math.max(latest.get(op.uuid) ?? 0, op.queuedAt))
  }
  return [...latest].map(([uuid, at]) => ({
    sql: 'UPDATE calls SET last_activity_at = ? WHERE uuid = ? AND last_activity_at < ?',
    params: [at, uuid, at],
  }))
}

export function recoverStatement (instance: string | undefined): Statement {
  const where = instance === undefined ? '' : ' AND instance = ?'
  return {
    sql: `UPDATE calls SET outcome = 'interrupted', ended_at = last_activity_at WHERE outcome IS NULL${where}`,
    params: instance === undefined ? [] : [instance],
  }
}

/** One call's record, still open when the process running it died (a cluster worker). */
export function interruptStatement (uuid: string): Statement {
  return { sql: "UPDATE calls SET outcome = 'interrupted', ended_at = last_activity_at WHERE outcome IS NULL AND uuid = ?", params: [uuid] }
}

/** Message rows a crashed process left `recording`: all of them (SQLite) or this instance's (PostgreSQL). */
export function openMessagesStatement (instance: string | undefined): Statement {
  return instance === undefined
    ? { sql: "SELECT call_uuid, seq, recording_path FROM call_messages WHERE status = 'recording' ORDER BY call_uuid, seq", params: [] }
    : {
        sql: `SELECT m.call_uuid, m.seq, m.recording_path FROM call_messages m JOIN calls c ON c.uuid = m.call_uuid
              WHERE m.status = 'recording' AND c.instance = ? ORDER BY m.call_uuid, m.seq`,
        params: [instance],
      }
}

export const SETTLE_MESSAGE = "UPDATE call_messages SET status = ?, duration_ms = ? WHERE call_uuid = ? AND seq = ? AND status = 'recording'"

export function toOpenMessage (r: Row): OpenMessage {
  return { callUuid: String(r.call_uuid), seq: Number(r.seq), recordingPath: str(r.recording_path) }
}

const SUMMARY_COLUMNS = `uuid, instance, did, caller_number, caller_name, contact, script, media_mode, started_at,
  answered_at, ended_at, outcome, rejection_reason, error_code, hangup_cause, stt_seconds, llm_input_tokens,
  llm_output_tokens, tts_characters, cost_estimate, preemptive_discarded`

export function listStatement (filter: CallFilter): Statement {
  const where: string[] = []
  const params: SqlValue[] = []
  if (filter.since !== undefined) { where.push('started_at >= ?'); params.push(filter.since) }
  if (filter.until !== undefined) { where.push('started_at < ?'); params.push(filter.until) }
  if (filter.did !== undefined) { where.push('did = ?'); params.push(filter.did) }
  if (filter.caller !== undefined) { where.push('caller_number = ?'); params.push(filter.caller) }
  if (filter.outcomes !== undefined && filter.outcomes.length > 0) {
    where.push(`outcome IN (${filter.outcomes.map(() => '?').join(', ')})`)
    params.push(...filter.outcomes)
  }
  const limit = Math.max(1, Math.min(Math.trunc(filter.limit ?? 100), 1_000_000))
  params.push(limit)
  return {
    sql: `SELECT ${SUMMARY_COLUMNS} FROM calls${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}
          ORDER BY started_at DESC, uuid LIMIT ?`,
    params,
  }
}

export const GET_CALL = `SELECT ${SUMMARY_COLUMNS}, recording_path, recording_ms FROM calls WHERE uuid = ?`
export const GET_TURNS = 'SELECT seq, role, text, at, interrupted FROM call_turns WHERE call_uuid = ? ORDER BY seq'
export const GET_LATENCY = `SELECT turn, speech_end_at, stt_final_at, llm_first_token_at, first_sentence_at, tts_audio_at,
  first_frame_at FROM call_latency WHERE call_uuid = ? ORDER BY turn`
export const GET_MESSAGES = 'SELECT seq, name, number, text, recording_path, at, status, duration_ms FROM call_messages WHERE call_uuid = ? ORDER BY seq'
export const GET_ERRORS = 'SELECT seq, code, message, provider, at FROM call_errors WHERE call_uuid = ? ORDER BY seq'

const str = (v: unknown): string | null => v === null || v === undefined ? null : String(v)
/** NULL: a row from before statuses existed, always a finished message. */
const messageStatus = (v: unknown): MessageStatus => (MESSAGE_STATUSES as readonly unknown[]).includes(v) ? v as MessageStatus : 'complete'
const num = (v: unknown): number | null => v === null || v === undefined ? null : Number(v)

export function toSummary (r: Row): CallSummary {
  const startedAt = Number(r.started_at)
  const endedAt = num(r.ended_at)
  return {
    uuid: String(r.uuid),
    instance: String(r.instance),
    did: String(r.did),
    callerNumber: str(r.caller_number),
    callerName: str(r.caller_name),
    contact: str(r.contact),
    script: str(r.script),
    mediaMode: str(r.media_mode),
    startedAt,
    answeredAt: num(r.answered_at),
    endedAt,
    durationMs: endedAt === null ? null : endedAt - startedAt,
    outcome: str(r.outcome) as RecordedOutcome | null,
    rejectionReason: str(r.rejection_reason),
    errorCode: str(r.error_code),
    hangupCause: str(r.hangup_cause),
    sttSeconds: Number(r.stt_seconds ?? 0),
    llmInputTokens: Number(r.llm_input_tokens ?? 0),
    llmOutputTokens: Number(r.llm_output_tokens ?? 0),
    ttsCharacters: Number(r.tts_characters ?? 0),
    costEstimate: Number(r.cost_estimate ?? 0),
    preemptiveDiscarded: Number(r.preemptive_discarded ?? 0),
  }
}

export function toDetail (call: Row, turns: Row[], latency: Row[], messages: Row[], errors: Row[]): CallDetail {
  return {
    ...toSummary(call),
    recordingPath: str(call.recording_path),
    recordingMs: num(call.recording_ms),
    turns: turns.map((r): TurnRecord => ({
      seq: Number(r.seq), role: String(r.role) as TurnRole, text: String(r.text), at: Number(r.at), interrupted: Number(r.interrupted) === 1,
    })),
    latency: latency.map((r): LatencyRecord => ({
      turn: Number(r.turn),
      speechEndAt: num(r.speech_end_at),
      sttFinalAt: num(r.stt_final_at),
      llmFirstTokenAt: num(r.llm_first_token_at),
      firstSentenceAt: num(r.first_sentence_at),
      ttsAudioAt: num(r.tts_audio_at),
      firstFrameAt: num(r.first_frame_at),
    })),
    messages: messages.map((r): MessageRecord => ({
      seq: Number(r.seq), name: str(r.name), number: str(r.number), text: String(r.text), recordingPath: str(r.recording_path), at: Number(r.at),
      status: messageStatus(r.status),
      durationMs: num(r.duration_ms),
    })),
    errors: errors.map((r): ErrorRecord => ({
      seq: Number(r.seq), code: String(r.code), message: String(r.message), provider: str(r.provider), at: Number(r.at),
    })),
  }
}
