import { formatDuration, formatTime, outcomeText, terminalSafe } from './format.ts'
import type { CallDetail, LatencyParts, LatencyRecord, MessageRecord } from './types.ts'

/** The stages of a reply, in the order they happen; each measured from the one before. */
export const LATENCY_STAGES: ReadonlyArray<[label: string, key: keyof LatencyRecord]> = [
  ['STT final', 'sttFinalAt'],
  ['LLM first token', 'llmFirstTokenAt'],
  ['first sentence', 'firstSentenceAt'],
  ['TTS audio', 'ttsAudioAt'],
  ['first audio frame', 'firstFrameAt'],
]

const BAR_WIDTH = 40

/** `mm:ss.s` since the start of the call. */
function offset (at: number, startedAt: number): string {
  const ms = Math.max(0, at - startedAt)
  const m = Math.floor(ms / 60_000)
  const s = ((ms % 60_000) / 1000).toFixed(1).padStart(4, '0')
  return `${String(m).padStart(2, '0')}:${s}`
}

const ms = (v: number): string => `${Math.round(v)} ms`

/** Processing (end of speech to audio in hand) and media alignment (audio in hand to first frame out). */
export function latencyParts (l: LatencyRecord): LatencyParts {
  const diff = (from: number | null, to: number | null): number | null => from === null || to === null ? null : Math.max(0, to - from)
  return { processingMs: diff(l.speechEndAt, l.ttsAudioAt), alignmentMs: diff(l.ttsAudioAt, l.firstFrameAt) }
}

/**
 * One turn's waterfall: each stage's own time and a bar placed at its offset from the end of
 * the caller's speech, so the gaps that make a reply slow stand out.
 */
export function waterfall (l: LatencyRecord): string[] {
  const start = l.speechEndAt
  const marks = LATENCY_STAGES.map(([label, key]) => [label, l[key] as number | null] as const)
  const last = [...marks].reverse().find(([, at]) => at !== null)?.[1] ?? null
  if (start === null || last === null) {
    return [`  turn ${l.turn}: incomplete (${start === null ? 'no end of speech' : 'no later stage'} recorded)`]
  }
  const total = Math.max(last - start, 1)
  const lines = [`  turn ${l.turn}  total ${ms(last - start)} from end of caller speech to first audio`]
  let prev = start
  for (const [label, at] of marks) {
    if (at === null) {
      lines.push(`    ${label.padEnd(18)} ${'-'.padStart(8)}`)
      continue
    }
    const from = Math.round(((prev - start) / total) * BAR_WIDTH)
    const width = Math.max(1, Math.round(((at - prev) / total) * BAR_WIDTH))
    lines.push(`    ${label.padEnd(18)} ${ms(at - prev).padStart(8)}  ${' '.repeat(Math.min(from, BAR_WIDTH))}${'#'.repeat(Math.min(width, BAR_WIDTH))}`)
    prev = at
  }
  const parts = latencyParts(l)
  if (parts.processingMs !== null && parts.alignmentMs !== null) {
    lines.push(`    processing ${ms(parts.processingMs)} (end of speech to audio ready), media alignment ${ms(parts.alignmentMs)} (audio ready to first frame out)`)
  }
  return lines
}

/** `phone-agent calls show <uuid>`: header, transcript, messages, errors, waterfall. */
export function showCall (call: CallDetail, timeZone?: string): string {
  const t = (v: string | null | undefined): string => v === null || v === undefined ? '-' : terminalSafe(v)
  const out: string[] = [
    `Call ${t(call.uuid)}`,
    `  Started   ${formatTime(call.startedAt, timeZone)}`,
    `  Answered  ${call.answeredAt === null ? '-' : `+${((call.answeredAt - call.startedAt) / 1000).toFixed(1)} s`}`,
    `  Ended     ${call.endedAt === null ? 'in progress' : `${formatTime(call.endedAt, timeZone)} (duration ${formatDuration(call.durationMs)})`}`,
    `  DID       ${t(call.did)}  script ${t(call.script)}  media ${t(call.mediaMode)}`,
    `  Caller    ${t(call.callerNumber)}  name ${call.callerName === null ? '-' : JSON.stringify(t(call.callerName))}  contact ${t(call.contact)}`,
    `  Outcome   ${t(outcomeText(call))}  hangup cause ${t(call.hangupCause)}`,
    `  Usage     STT ${call.sttSeconds.toFixed(1)} s, LLM ${call.llmInputTokens} in / ${call.llmOutputTokens} out tokens, ` +
      `TTS ${call.ttsCharacters} chars, estimated cost ${call.costEstimate.toFixed(4)}` +
      (call.preemptiveDiscarded > 0 ? ` (incl. ${call.preemptiveDiscarded} preemptive ${call.preemptiveDiscarded === 1 ? 'reply' : 'replies'} discarded)` : ''),
    `  Instance  ${t(call.instance)}`,
    ...(call.recordingPath === null ? [] : [`  Recording ${t(call.recordingPath)}${call.recordingMs === null ? ' (not finished)' : ` (${formatDuration(call.recordingMs)}, stereo: caller left, agent right)`}`]),
    '',
    'Transcript',
  ]
  if (call.turns.length === 0) out.push('  (none)')
  for (const turn of call.turns) {
    out.push(`  ${offset(turn.at, call.startedAt)}  ${turn.role.padEnd(6)}  ${t(turn.text)}${turn.interrupted ? '  [interrupted]' : ''}`)
  }
  if (call.messages.length > 0) {
    out.push('', 'Messages')
    for (const m of call.messages) {
      const who = [m.name, m.number].filter((x) => x !== null).map((x) => t(x)).join(', ')
      out.push(`  ${offset(m.at, call.startedAt)}  ${who === '' ? '(anonymous)' : who}: ${t(m.text)}${recordingNote(m, t)}`)
    }
  }
  if (call.errors.length > 0) {
    out.push('', 'Errors')
    for (const e of call.errors) {
      out.push(`  ${offset(e.at, call.startedAt)}  ${t(e.code)}${e.provider === null ? '' : ` (${t(e.provider)})`}: ${t(e.message)}`)
    }
  }
  if (call.latency.length > 0) {
    out.push('', 'Latency waterfall')
    for (const l of call.latency) out.push(...waterfall(l))
  }
  return out.join('\n') + '\n'
}

const STATUS_NOTES: Record<MessageRecord['status'], string> = {
  complete: '',
  recording: ', still recording',
  recovered: ', recovered after a crash',
  lost: ', lost in a crash',
}

/** `  [recording /x.wav, 12.3 s, recovered after a crash]` */
function recordingNote (m: MessageRecord, t: (s: string) => string): string {
  if (m.recordingPath === null) return ''
  const length = m.durationMs === null ? '' : `, ${(m.durationMs / 1000).toFixed(1)} s`
  return `  [recording ${t(m.recordingPath)}${length}${STATUS_NOTES[m.status]}]`
}
