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
]

export const SCHEMA_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`

export const LATEST_SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0)
