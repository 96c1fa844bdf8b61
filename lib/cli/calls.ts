import { parseArgs } from 'node:util'
import { callsCsv, callsTable } from '../records/format.ts'
import { showCall } from '../records/show.ts'
import { terminalSafe } from '../records/format.ts'
import type { MessageExtra } from '../records/owner-sql.ts'
import { RECORDED_OUTCOMES, type CallStore, type RecordedOutcome } from '../records/types.ts'

export interface CallsCommandDeps {
  /** Read-only use: the CLI never runs recovery (a server may be live on the same database). */
  readonly store: Pick<CallStore, 'list' | 'get'>
  readonly out: { write (text: string): unknown }
  /** Usage errors; `out` when absent. */
  readonly err?: { write (text: string): unknown } | undefined
  /** Normalises `--did`/`--caller` as the server does (E.164 with the configured country). */
  readonly normalizeNumber?: ((value: string) => string | undefined) | undefined
  /** IANA zone for shown times; the machine's when absent. */
  readonly timeZone?: string | undefined
  readonly now?: (() => number) | undefined
  /** Voicemail transcripts and "called back" marks of a call's messages (`calls show`). */
  readonly messageExtras?: ((uuid: string) => Promise<MessageExtra[]>) | undefined
  /** When retention purged the call's audio and transcripts, if it did. */
  readonly purgedAt?: ((uuid: string) => Promise<number | null>) | undefined
}

export const CALLS_USAGE = `Usage:
  phone-agent calls [--since WHEN] [--until WHEN] [--did NUMBER] [--caller NUMBER]
                    [--outcome OUTCOME[,OUTCOME...]] [--limit N] [--json | --csv]
  phone-agent calls show UUID [--json]

WHEN is a date (2025-01-31), a local date and time (2025-01-31T14:00), an ISO time with
zone, or a span back from now: 30m, 24h, 7d, 2w.
OUTCOME is one of: ${RECORDED_OUTCOMES.join(', ')}.
`

const SPAN_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** Parses WHEN (see usage) to epoch ms, or undefined when it is not one. */
export function parseWhen (value: string, now: number): number | undefined {
  const span = /^(\d+)([mhdw])$/.exec(value)
  if (span !== null) return now - Number(span[1]) * (SPAN_MS[span[2] ?? ''] ?? 0)
  // A bare date means local midnight; `new Date('2025-01-31')` alone would read it as UTC.
  const text = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00` : value
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) return undefined
  const ms = new Date(text.replace(' ', 'T')).getTime()
  return Number.isNaN(ms) ? undefined : ms
}

class UsageError extends Error {}

/** `phone-agent calls ...`; resolves to the exit code (0 ok, 1 not found, 2 usage). */
export async function runCallsCommand (argv: readonly string[], deps: CallsCommandDeps): Promise<number> {
  const err = deps.err ?? deps.out
  try {
    return argv[0] === 'show' ? await show(argv.slice(1), deps) : await list(argv, deps)
  } catch (e) {
    if (!(e instanceof UsageError) && !(e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true)) throw e
    err.write(`phone-agent calls: ${e.message}\n\n${CALLS_USAGE}`)
    return 2
  }
}

async function list (argv: readonly string[], deps: CallsCommandDeps): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      since: { type: 'string' },
      until: { type: 'string' },
      did: { type: 'string' },
      caller: { type: 'string' },
      outcome: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
      csv: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) {
    deps.out.write(CALLS_USAGE)
    return 0
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
  if (values.json === true && values.csv === true) throw new UsageError('choose one of --json and --csv')
  const now = (deps.now ?? Date.now)()
  const when = (name: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined
    const ms = parseWhen(value, now)
    if (ms === undefined) throw new UsageError(`--${name} ${JSON.stringify(value)} is not a date, time or span (30m, 24h, 7d)`)
    return ms
  }
  const number = (name: string, value: string | undefined): string | undefined => {
    if (value === undefined || deps.normalizeNumber === undefined) return value
    const normalized = deps.normalizeNumber(value)
    if (normalized === undefined) throw new UsageError(`--${name} ${JSON.stringify(value)} is not a phone number`)
    return normalized
  }
  let outcomes: RecordedOutcome[] | undefined
  if (values.outcome !== undefined) {
    outcomes = values.outcome.split(',').map((o) => o.trim().replace(/-/g, '_')) as RecordedOutcome[]
    const bad = outcomes.find((o) => !RECORDED_OUTCOMES.includes(o))
    if (bad !== undefined) throw new UsageError(`unknown outcome ${JSON.stringify(bad)}`)
  }
  let limit: number | undefined
  if (values.limit !== undefined) {
    limit = Number(values.limit)
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive whole number')
  } else if (values.json !== true && values.csv !== true) {
    limit = 50
  } else {
    // Exports are for keeping: everything that matches unless told otherwise.
    limit = 1_000_000
  }

  const calls = await deps.store.list({
    since: when('since', values.since),
    until: when('until', values.until),
    did: number('did', values.did),
    caller: number('caller', values.caller),
    outcomes,
    limit,
  })
  if (values.json === true) deps.out.write(JSON.stringify(calls, null, 2) + '\n')
  else if (values.csv === true) deps.out.write(callsCsv(calls))
  else deps.out.write(callsTable(calls, deps.timeZone))
  return 0
}

async function show (argv: readonly string[], deps: CallsCommandDeps): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  })
  if (values.help === true) {
    deps.out.write(CALLS_USAGE)
    return 0
  }
  if (positionals.length !== 1) throw new UsageError('show takes exactly one call UUID')
  const uuid = positionals[0] ?? ''
  const call = await deps.store.get(uuid)
  if (call === undefined) {
    (deps.err ?? deps.out).write(`phone-agent calls: no call ${JSON.stringify(uuid)}\n`)
    return 1
  }
  const extras = await deps.messageExtras?.(uuid) ?? []
  const purged = await deps.purgedAt?.(uuid) ?? null
  if (values.json === true) {
    const transcripts = Object.fromEntries(extras.filter((e) => e.transcriptStatus !== null).map((e) => [e.seq, { status: e.transcriptStatus, text: e.transcript }]))
    deps.out.write(JSON.stringify({ ...call, messageTranscripts: transcripts, purgedAt: purged }, null, 2) + '\n')
  } else {
    deps.out.write(showCall(call, deps.timeZone) + ownerNotes(extras, purged))
  }
  return 0
}

/** Voicemail transcripts and the retention note, after the record `showCall` prints. */
function ownerNotes (extras: readonly MessageExtra[], purgedAt: number | null): string {
  const out: string[] = []
  const made = extras.filter((e) => e.transcriptStatus !== null)
  if (made.length > 0) {
    out.push('', 'Voicemail transcripts')
    for (const e of made) {
      const text = e.transcriptStatus === 'done' ? terminalSafe(e.transcript ?? '') : e.transcriptStatus === 'pending' ? '(being transcribed)' : '(transcription failed)'
      out.push(`  message ${e.seq}: ${text}${e.handledAt === null ? '' : '  [called back]'}`)
    }
  }
  if (purgedAt !== null) out.push('', `Audio and transcripts deleted by retention on ${new Date(purgedAt).toISOString()}`)
  return out.length === 0 ? '' : out.join('\n') + '\n'
}
