import type { CallSummary } from './types.ts'

/**
 * Turning records into text for terminals and spreadsheets. Caller names, transcripts and
 * messages are caller-controlled: on a terminal they could carry escape sequences, in a
 * spreadsheet formulas, so both outputs neutralise them here.
 */

// C0 and C1 controls, DEL, and the bidi overrides that can make text display out of order.
const UNSAFE_FOR_TERMINAL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

/** One line of terminal text: controls (ESC, newlines, bidi overrides) become visible marks. */
export function terminalSafe (value: string): string {
  return value.replace(UNSAFE_FOR_TERMINAL, (c) => c === '\n' || c === '\r' || c === '\t' ? ' ' : '\uFFFD')
}

export function truncate (value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max - 1)}…` : value
}

/** `2025-01-31 10:00:00` in the given IANA zone (the machine's when absent). */
export function formatTime (ms: number, timeZone?: string): string {
  // sv-SE is the locale whose date format is ISO-like; only the layout is borrowed.
  return new Intl.DateTimeFormat('sv-SE', {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
  }).format(new Date(ms))
}

export function formatDuration (ms: number | null): string {
  if (ms === null) return '-'
  const total = Math.max(0, Math.round(ms / 1000))
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = String(total % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`
}

export function outcomeText (call: CallSummary): string {
  if (call.outcome === null) return 'in progress'
  if (call.outcome === 'rejected' && call.rejectionReason !== null) return `rejected (${call.rejectionReason})`
  if (call.outcome === 'failed' && call.errorCode !== null) return `failed (${call.errorCode})`
  return call.outcome
}

/** The `phone-agent calls` table. */
export function callsTable (calls: readonly CallSummary[], timeZone?: string): string {
  if (calls.length === 0) return 'No calls match.\n'
  const header = ['STARTED', 'DURATION', 'DID', 'CALLER', 'NAME', 'OUTCOME', 'UUID']
  const rows = calls.map((c) => [
    formatTime(c.startedAt, timeZone),
    formatDuration(c.durationMs),
    c.did,
    c.callerNumber ?? '-',
    truncate(c.contact ?? c.callerName ?? '-', 24),
    outcomeText(c),
    c.uuid,
  ].map(terminalSafe))
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)))
  const line = (cells: readonly string[]): string => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)).join('  ')
  return [line(header), ...rows.map(line)].join('\n') + '\n'
}

const CSV_COLUMNS: ReadonlyArray<[string, (c: CallSummary) => string | number | null]> = [
  ['uuid', (c) => c.uuid],
  ['started_at', (c) => new Date(c.startedAt).toISOString()],
  ['answered_at', (c) => c.answeredAt === null ? null : new Date(c.answeredAt).toISOString()],
  ['ended_at', (c) => c.endedAt === null ? null : new Date(c.endedAt).toISOString()],
  ['duration_seconds', (c) => c.durationMs === null ? null : c.durationMs / 1000],
  ['did', (c) => c.did],
  ['caller_number', (c) => c.callerNumber],
  ['caller_name', (c) => c.callerName],
  ['contact', (c) => c.contact],
  ['script', (c) => c.script],
  ['media_mode', (c) => c.mediaMode],
  ['outcome', (c) => c.outcome],
  ['rejection_reason', (c) => c.rejectionReason],
  ['error_code', (c) => c.errorCode],
  ['hangup_cause', (c) => c.hangupCause],
  ['stt_seconds', (c) => c.sttSeconds],
  ['llm_input_tokens', (c) => c.llmInputTokens],
  ['llm_output_tokens', (c) => c.llmOutputTokens],
  ['tts_characters', (c) => c.ttsCharacters],
  ['cost_estimate', (c) => c.costEstimate],
  ['instance', (c) => c.instance],
]

/**
 * One RFC 4180 field. Text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR
 * first) gets a leading apostrophe (OWASP "CSV injection"), except phone numbers and plain
 * numbers, which are data a spreadsheet reads harmlessly.
 */
export function csvField (value: string | number | null): string {
  if (value === null) return ''
  let text = String(value)
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text) && !/^[+-]?\d[\d.]*$/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text
}

/** CSV with a header row and CRLF line ends, as RFC 4180 and spreadsheets expect. */
export function callsCsv (calls: readonly CallSummary[]): string {
  const lines = [CSV_COLUMNS.map(([name]) => name).join(',')]
  for (const c of calls) lines.push(CSV_COLUMNS.map(([, get]) => csvField(get(c))).join(','))
  return lines.join('\r\n') + '\r\n'
}
