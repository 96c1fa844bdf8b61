/**
 * Numbered schema migrations, applied in order at open, each in its own transaction together
 * with its `schema_migrations` row. Never edit a released migration: add the next number.
 *
 * The SQL is written once for both SQLite and PostgreSQL: BIGINT, INTEGER, TEXT and DOUBLE
 * PRECISION mean the same in both (SQLite maps them by type affinity), and booleans are
 * INTEGER 0/1 so rows read back identically. Times are epoch milliseconds.
 */

export interface Migration {
  readonly version: number
  readonly name: string
  readonly statements: readonly string[]
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'call records',
    statements: [
      `CREATE TABLE calls (
        uuid TEXT PRIMARY KEY,
        instance TEXT NOT NULL,
        did TEXT NOT NULL,
        caller_number TEXT,
        caller_name TEXT,
        contact TEXT,
        script TEXT,
        media_mode TEXT,
        started_at BIGINT NOT NULL,
        answered_at BIGINT,
        ended_at BIGINT,
        last_activity_at BIGINT NOT NULL,
        outcome TEXT,
        rejection_reason TEXT,
        error_code TEXT,
        hangup_cause TEXT,
        stt_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
        llm_input_tokens BIGINT NOT NULL DEFAULT 0,
        llm_output_tokens BIGINT NOT NULL DEFAULT 0,
        tts_characters BIGINT NOT NULL DEFAULT 0,
        cost_estimate DOUBLE PRECISION NOT NULL DEFAULT 0
      )`,
      `CREATE TABLE call_turns (
        call_uuid TEXT NOT NULL,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        text TEXT NOT NULL,
        at BIGINT NOT NULL,
        interrupted INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (call_uuid, seq)
      )`,
      `CREATE TABLE call_latency (
        call_uuid TEXT NOT NULL,
        turn INTEGER NOT NULL,
        speech_end_at DOUBLE PRECISION,
        stt_final_at DOUBLE PRECISION,
        llm_first_token_at DOUBLE PRECISION,
        first_sentence_at DOUBLE PRECISION,
        tts_audio_at DOUBLE PRECISION,
        first_frame_at DOUBLE PRECISION,
        PRIMARY KEY (call_uuid, turn)
      )`,
      `CREATE TABLE call_messages (
        call_uuid TEXT NOT NULL,
        seq INTEGER NOT NULL,
        name TEXT,
        number TEXT,
        text TEXT NOT NULL,
        recording_path TEXT,
        at BIGINT NOT NULL,
        PRIMARY KEY (call_uuid, seq)
      )`,
      `CREATE TABLE call_errors (
        call_uuid TEXT NOT NULL,
        seq INTEGER NOT NULL,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        provider TEXT,
        at BIGINT NOT NULL,
        PRIMARY KEY (call_uuid, seq)
      )`,
    ],
  },
  {
    version: 2,
    name: 'listing and recovery indexes',
    statements: [
      'CREATE INDEX calls_started_at ON calls (started_at)',
      'CREATE INDEX calls_did_started_at ON calls (did, started_at)',
      'CREATE INDEX calls_caller_started_at ON calls (caller_number, started_at)',
      // Recovery looks for open records (outcome IS NULL) of one instance.
      'CREATE INDEX calls_instance_outcome ON calls (instance, outcome)',
    ],
  },
  {
    version: 3,
    name: 'message status and duration',
    statements: [
      // NULL status: a row written before this migration, always a finished message.
      'ALTER TABLE call_messages ADD COLUMN status TEXT',
      'ALTER TABLE call_messages ADD COLUMN duration_ms BIGINT',
      // Start-up looks for rows a crash left `recording`; a partial index keeps that cheap.
      "CREATE INDEX call_messages_recording ON call_messages (call_uuid) WHERE status = 'recording'",
    ],
  },
  {
    version: 4,
    name: 'notification outbox, message transcripts and handling, retention',
    statements: [
      // One row per delivery (a webhook or an e-mail for one call, or one day's digest): the
      // outbox survives a restart, so a receiver that is down gets the notification later.
      // `id` is text (random or `digest:<day>:<channel>`): no autoincrement that differs by dialect.
      `CREATE TABLE notify_outbox (
        id TEXT PRIMARY KEY,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        ref TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        sent_at BIGINT,
        last_error TEXT
      )`,
      'CREATE INDEX notify_outbox_due ON notify_outbox (status, next_attempt_at)',
      // The voicemail transcript (after the call, from the recording) and the owner's "called back".
      'ALTER TABLE call_messages ADD COLUMN transcript TEXT',
      'ALTER TABLE call_messages ADD COLUMN transcript_status TEXT',
      'ALTER TABLE call_messages ADD COLUMN handled_at BIGINT',
      // Retention: when the call's audio and transcripts were deleted (the record says so).
      'ALTER TABLE calls ADD COLUMN purged_at BIGINT',
      // Small durable facts of the owner's services (the last digest day sent).
      'CREATE TABLE owner_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
    ],
  },
  {
    version: 5,
    name: 'whole-call recording',
    statements: [
      // Set when a recorded call begins (a crash cannot lose the link); the length when it ends.
      'ALTER TABLE calls ADD COLUMN recording_path TEXT',
      'ALTER TABLE calls ADD COLUMN recording_ms BIGINT',
    ],
  },
  {
    version: 6,
    name: 'preemptive replies',
    statements: [
      // Replies started at a short pause and thrown away because the caller went on (their
      // tokens are in the usage columns: the vendors bill them).
      'ALTER TABLE calls ADD COLUMN preemptive_discarded BIGINT NOT NULL DEFAULT 0',
    ],
  },
]

export const SCHEMA_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`

export const LATEST_SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0)
