import type { Row, SqlDriver, SqlValue, Statement } from './sql.ts'

/**
 * Queries for the tables and columns the owner's services add (migration 4): the notification
 * outbox, voicemail transcripts, "called back" marks, retention and digest figures. Written once
 * for SQLite and PostgreSQL like lib/records/sql.ts. Kept apart from the call recorder's SQL so
 * the write path of a live call never depends on them.
 */

export type OutboxChannel = 'webhook' | 'email'
export type OutboxKind = 'call' | 'digest'
export type OutboxStatus = 'pending' | 'sent' | 'failed'

export interface OutboxRow {
  readonly id: string
  readonly channel: OutboxChannel
  readonly kind: OutboxKind
  /** The call's UUID, or the digest's day (YYYY-MM-DD). */
  readonly ref: string
  readonly status: OutboxStatus
  readonly attempts: number
  readonly createdAt: number
  readonly nextAttemptAt: number
  readonly sentAt: number | null
  readonly lastError: string | null
}

const str = (v: unknown): string | null => v === null || v === undefined ? null : String(v)
const num = (v: unknown): number | null => v === null || v === undefined ? null : Number(v)

function toOutbox (r: Row): OutboxRow {
  return {
    id: String(r.id),
    channel: String(r.channel) as OutboxChannel,
    kind: String(r.kind) as OutboxKind,
    ref: String(r.ref),
    status: String(r.status) as OutboxStatus,
    attempts: Number(r.attempts),
    createdAt: Number(r.created_at),
    nextAttemptAt: Number(r.next_attempt_at),
    sentAt: num(r.sent_at),
    lastError: str(r.last_error),
  }
}

const OUTBOX_COLUMNS = 'id, channel, kind, ref, status, attempts, created_at, next_attempt_at, sent_at, last_error'

/** The outbox: rows are claimed with a lease, so two instances on one PostgreSQL never send one twice at once. */
export class OutboxTable {
  constructor (private readonly sql: SqlDriver) {}

  /** A second add of the same id is ignored (a digest day, a call ended twice). */
  async add (row: { id: string, channel: OutboxChannel, kind: OutboxKind, ref: string, at: number }): Promise<void> {
    await this.sql.run(`INSERT INTO notify_outbox (id, channel, kind, ref, status, attempts, created_at, next_attempt_at)
      VALUES (?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (id) DO NOTHING`, [row.id, row.channel, row.kind, row.ref, row.at, row.at])
  }

  async due (now: number, limit: number): Promise<OutboxRow[]> {
    const rows = await this.sql.all(`SELECT ${OUTBOX_COLUMNS} FROM notify_outbox WHERE status = 'pending' AND next_attempt_at <= ?
      ORDER BY next_attempt_at, id LIMIT ?`, [now, limit])
    return rows.map(toOutbox)
  }

  /** The earliest pending attempt, or null when nothing waits. */
  async nextDueAt (): Promise<number | null> {
    const [row] = await this.sql.all("SELECT MIN(next_attempt_at) AS at FROM notify_outbox WHERE status = 'pending'", [])
    return num(row?.at)
  }

  /** Takes the row for `leaseUntil`; false when another worker took it first. */
  async claim (row: OutboxRow, leaseUntil: number): Promise<boolean> {
    const changed = await this.sql.run(`UPDATE notify_outbox SET next_attempt_at = ? WHERE id = ? AND status = 'pending' AND next_attempt_at = ?`,
      [leaseUntil, row.id, row.nextAttemptAt])
    return changed === 1
  }

  async sent (id: string, at: number): Promise<void> {
    await this.sql.run("UPDATE notify_outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL WHERE id = ?", [at, id])
  }

  async retry (id: string, nextAt: number, error: string): Promise<void> {
    await this.sql.run('UPDATE notify_outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?', [nextAt, error.slice(0, 1000), id])
  }

  async failed (id: string, error: string): Promise<void> {
    await this.sql.run("UPDATE notify_outbox SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?", [error.slice(0, 1000), id])
  }

  /** Not an attempt: the row waits (for a transcript still being made). */
  async defer (id: string, nextAt: number): Promise<void> {
    await this.sql.run('UPDATE notify_outbox SET next_attempt_at = ? WHERE id = ?', [nextAt, id])
  }

  async get (id: string): Promise<OutboxRow | undefined> {
    const [row] = await this.sql.all(`SELECT ${OUTBOX_COLUMNS} FROM notify_outbox WHERE id = ?`, [id])
    return row === undefined ? undefined : toOutbox(row)
  }

  async forRef (ref: string): Promise<OutboxRow[]> {
    return (await this.sql.all(`SELECT ${OUTBOX_COLUMNS} FROM notify_outbox WHERE ref = ? ORDER BY created_at, id`, [ref])).map(toOutbox)
  }
}

export type TranscriptStatus = 'pending' | 'done' | 'failed'

/** What migration 4 adds to a message row. */
export interface MessageExtra {
  readonly seq: number
  readonly transcript: string | null
  readonly transcriptStatus: TranscriptStatus | null
  readonly handledAt: number | null
}

export interface PendingTranscript {
  readonly callUuid: string
  readonly seq: number
  readonly recordingPath: string
  /** The number called: its route says the language. */
  readonly did: string
}

/** A message with its call, for the "messages to return" view. */
export interface MessageToReturn {
  readonly callUuid: string
  readonly seq: number
  readonly name: string | null
  readonly number: string | null
  readonly text: string
  readonly recordingPath: string | null
  readonly at: number
  readonly transcript: string | null
  readonly handledAt: number | null
  readonly callerNumber: string | null
  readonly callerName: string | null
  readonly did: string
}

export class MessageTable {
  constructor (private readonly sql: SqlDriver) {}

  /** Every message of the call with a recording and no transcript yet becomes `pending`; returns them. */
  async queueTranscripts (callUuid: string): Promise<PendingTranscript[]> {
    await this.sql.run(`UPDATE call_messages SET transcript_status = 'pending'
      WHERE call_uuid = ? AND recording_path IS NOT NULL AND transcript_status IS NULL`, [callUuid])
    return await this.#pending('AND m.call_uuid = ?', [callUuid])
  }

  /** Left `pending` by a stopped process: transcribed at the next start. */
  async pendingTranscripts (): Promise<PendingTranscript[]> {
    return await this.#pending('', [])
  }

  async #pending (where: string, params: SqlValue[]): Promise<PendingTranscript[]> {
    const rows = await this.sql.all(`SELECT m.call_uuid, m.seq, m.recording_path, c.did FROM call_messages m JOIN calls c ON c.uuid = m.call_uuid
      WHERE m.transcript_status = 'pending' AND m.recording_path IS NOT NULL ${where} ORDER BY m.at, m.call_uuid, m.seq`, params)
    return rows.map((r) => ({ callUuid: String(r.call_uuid), seq: Number(r.seq), recordingPath: String(r.recording_path), did: String(r.did) }))
  }

  async setTranscript (callUuid: string, seq: number, status: 'done' | 'failed', text: string | null): Promise<void> {
    await this.sql.run('UPDATE call_messages SET transcript_status = ?, transcript = ? WHERE call_uuid = ? AND seq = ?', [status, text, callUuid, seq])
  }

  async extras (callUuid: string): Promise<MessageExtra[]> {
    const rows = await this.sql.all('SELECT seq, transcript, transcript_status, handled_at FROM call_messages WHERE call_uuid = ? ORDER BY seq', [callUuid])
    return rows.map((r) => ({
      seq: Number(r.seq), transcript: str(r.transcript), transcriptStatus: str(r.transcript_status) as TranscriptStatus | null, handledAt: num(r.handled_at),
    }))
  }

  /** `at` null: back to "to return". Returns false when there is no such message. */
  async setHandled (callUuid: string, seq: number, at: number | null): Promise<boolean> {
    return await this.sql.run('UPDATE call_messages SET handled_at = ? WHERE call_uuid = ? AND seq = ?', [at, callUuid, seq]) === 1
  }

  async toReturn (options: { includeHandled: boolean, limit: number }): Promise<MessageToReturn[]> {
    const rows = await this.sql.all(`SELECT m.call_uuid, m.seq, m.name, m.number, m.text, m.recording_path, m.at, m.transcript, m.handled_at,
        c.caller_number, c.caller_name, c.did
      FROM call_messages m JOIN calls c ON c.uuid = m.call_uuid
      WHERE c.purged_at IS NULL ${options.includeHandled ? '' : 'AND m.handled_at IS NULL'}
      ORDER BY m.at DESC, m.call_uuid, m.seq LIMIT ?`, [options.limit])
    return rows.map((r) => ({
      callUuid: String(r.call_uuid), seq: Number(r.seq), name: str(r.name), number: str(r.number), text: String(r.text),
      recordingPath: str(r.recording_path), at: Number(r.at), transcript: str(r.transcript), handledAt: num(r.handled_at),
      callerNumber: str(r.caller_number), callerName: str(r.caller_name), did: String(r.did),
    }))
  }

  async recordingPath (callUuid: string, seq: number): Promise<string | null> {
    const [row] = await this.sql.all('SELECT recording_path FROM call_messages WHERE call_uuid = ? AND seq = ?', [callUuid, seq])
    return str(row?.recording_path)
  }
}

/** `%` and `_` in the user's words match themselves. */
function likePattern (text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}

/** UUIDs of calls whose transcript, messages or voicemail transcripts contain `text` (any case), newest first. */
export async function searchCalls (sql: SqlDriver, text: string, limit: number): Promise<string[]> {
  const p = likePattern(text)
  const rows = await sql.all(`SELECT c.uuid FROM calls c WHERE
      EXISTS (SELECT 1 FROM call_turns t WHERE t.call_uuid = c.uuid AND LOWER(t.text) LIKE ? ESCAPE '\\')
      OR EXISTS (SELECT 1 FROM call_messages m WHERE m.call_uuid = c.uuid
        AND (LOWER(m.text) LIKE ? ESCAPE '\\' OR LOWER(COALESCE(m.transcript, '')) LIKE ? ESCAPE '\\'))
    ORDER BY c.started_at DESC LIMIT ?`, [p, p, p, limit])
  return rows.map((r) => String(r.uuid))
}

export async function purgedAt (sql: SqlDriver, callUuid: string): Promise<number | null> {
  const [row] = await sql.all('SELECT purged_at FROM calls WHERE uuid = ?', [callUuid])
  return num(row?.purged_at)
}

export async function getState (sql: SqlDriver, key: string): Promise<string | undefined> {
  const [row] = await sql.all('SELECT value FROM owner_state WHERE key = ?', [key])
  return row === undefined ? undefined : String(row.value)
}

export async function setState (sql: SqlDriver, key: string, value: string): Promise<void> {
  await sql.run('INSERT INTO owner_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value])
}

/** Calls that started before `cutoff`, have ended and still hold audio or transcripts. */
export async function callsToPurge (sql: SqlDriver, cutoff: number, limit: number): Promise<string[]> {
  const rows = await sql.all(`SELECT uuid FROM calls WHERE started_at < ? AND purged_at IS NULL AND outcome IS NOT NULL
    ORDER BY started_at LIMIT ?`, [cutoff, limit])
  return rows.map((r) => String(r.uuid))
}

/** Calls to delete entirely (`retention.recordsDays`). */
export async function callsToDelete (sql: SqlDriver, cutoff: number, limit: number): Promise<string[]> {
  const rows = await sql.all('SELECT uuid FROM calls WHERE started_at < ? AND outcome IS NOT NULL ORDER BY started_at LIMIT ?', [cutoff, limit])
  return rows.map((r) => String(r.uuid))
}

/** Audio files a call's rows point at: its messages' recordings and the whole-call recording. */
export async function callFiles (sql: SqlDriver, callUuid: string): Promise<string[]> {
  const rows = await sql.all(`SELECT recording_path FROM call_messages WHERE call_uuid = ? AND recording_path IS NOT NULL
    UNION ALL SELECT recording_path FROM calls WHERE uuid = ? AND recording_path IS NOT NULL`, [callUuid, callUuid])
  return rows.map((r) => String(r.recording_path))
}

/** The whole-call recording's file, or null. */
export async function callRecordingPath (sql: SqlDriver, callUuid: string): Promise<string | null> {
  const [row] = await sql.all('SELECT recording_path FROM calls WHERE uuid = ?', [callUuid])
  return str(row?.recording_path)
}

/** The call keeps its row (who, when, outcome, cost) and says when its content went. */
export function purgeStatements (callUuid: string, at: number): Statement[] {
  return [
    { sql: 'DELETE FROM call_turns WHERE call_uuid = ?', params: [callUuid] },
    { sql: "UPDATE call_messages SET text = '', transcript = NULL, recording_path = NULL WHERE call_uuid = ?", params: [callUuid] },
    { sql: 'UPDATE calls SET purged_at = ?, recording_path = NULL WHERE uuid = ?', params: [at, callUuid] },
  ]
}

export function deleteStatements (callUuid: string): Statement[] {
  return [
    ...['call_turns', 'call_latency', 'call_messages', 'call_errors'].map((table) => ({ sql: `DELETE FROM ${table} WHERE call_uuid = ?`, params: [callUuid] })),
    { sql: 'DELETE FROM notify_outbox WHERE ref = ?', params: [callUuid] },
    { sql: 'DELETE FROM calls WHERE uuid = ?', params: [callUuid] },
  ]
}

/** Figures for one window of the daily digest. */
export interface DigestFigures {
  readonly calls: number
  readonly byOutcome: Readonly<Record<string, number>>
  readonly refusals: Readonly<Record<string, number>>
  readonly transfers: number
  readonly providerErrors: ReadonlyArray<{ provider: string, code: string, count: number }>
  readonly cost: number
  /** All time, not only the window: what the owner still has to do. */
  readonly messagesWaiting: number
  readonly messagesTaken: number
}

export async function digestFigures (sql: SqlDriver, since: number, until: number): Promise<DigestFigures> {
  const byOutcome: Record<string, number> = {}
  let calls = 0
  let cost = 0
  for (const r of await sql.all(`SELECT COALESCE(outcome, 'in_progress') AS outcome, COUNT(*) AS n, SUM(cost_estimate) AS cost
      FROM calls WHERE started_at >= ? AND started_at < ? GROUP BY COALESCE(outcome, 'in_progress')`, [since, until])) {
    byOutcome[String(r.outcome)] = Number(r.n)
    calls += Number(r.n)
    cost += Number(r.cost ?? 0)
  }
  const refusals: Record<string, number> = {}
  for (const r of await sql.all(`SELECT COALESCE(rejection_reason, 'unknown') AS reason, COUNT(*) AS n FROM calls
      WHERE outcome = 'rejected' AND started_at >= ? AND started_at < ? GROUP BY COALESCE(rejection_reason, 'unknown')`, [since, until])) {
    refusals[String(r.reason)] = Number(r.n)
  }
  const providerErrors = (await sql.all(`SELECT provider, code, COUNT(*) AS n FROM call_errors
      WHERE provider IS NOT NULL AND at >= ? AND at < ? GROUP BY provider, code ORDER BY provider, code`, [since, until]))
    .map((r) => ({ provider: String(r.provider), code: String(r.code), count: Number(r.n) }))
  const [waiting] = await sql.all(`SELECT COUNT(*) AS n FROM call_messages m JOIN calls c ON c.uuid = m.call_uuid
      WHERE m.handled_at IS NULL AND c.purged_at IS NULL`, [])
  const [taken] = await sql.all('SELECT COUNT(*) AS n FROM call_messages WHERE at >= ? AND at < ?', [since, until])
  return {
    calls, byOutcome, refusals, transfers: byOutcome.transferred ?? 0, providerErrors, cost,
    messagesWaiting: Number(waiting?.n ?? 0), messagesTaken: Number(taken?.n ?? 0),
  }
}
