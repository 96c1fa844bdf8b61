import { formatDuration, outcomeText } from '../records/format.ts'
import type { MessageExtra } from '../records/owner-sql.ts'
import type { CallDetail } from '../records/types.ts'
import type { NumberShown } from './mask.ts'
import type { NotifyWhen } from './config.ts'

/**
 * What a notification says about one ended call: the webhook's JSON body and the e-mail's text
 * come from this one object, so the two never disagree.
 */
export interface CallNotice {
  readonly event: 'call.ended'
  /** The delivery's id: the same on every retry, so a receiver can drop duplicates. */
  readonly id: string
  readonly call: {
    readonly uuid: string
    readonly did: string
    readonly callerNumber: string | null
    readonly callerName: string | null
    readonly contact: string | null
    readonly script: string | null
    readonly startedAt: string
    readonly endedAt: string | null
    readonly durationMs: number | null
    readonly outcome: string | null
    readonly rejectionReason: string | null
    readonly errorCode: string | null
    readonly hangupCause: string | null
    readonly costEstimate: number
  }
  readonly summary: string
  /** Absent when `privacy.transcriptsInNotifications` is off. */
  readonly transcript?: ReadonlyArray<{ readonly role: string, readonly text: string, readonly at: string, readonly interrupted: boolean }>
  readonly messages: ReadonlyArray<{
    readonly seq: number
    readonly name: string | null
    readonly number: string | null
    readonly text: string
    readonly at: string
    readonly durationMs: number | null
    readonly hasRecording: boolean
    /** Absent when transcripts are excluded; null when none was made. */
    readonly transcript?: string | null
  }>
  readonly errors: ReadonlyArray<{ readonly code: string, readonly message: string, readonly provider: string | null }>
}

const FAILED = new Set(['failed', 'interrupted', 'handshake_failed'])

/** Whether an ended call matches a channel's `when`. */
export function wanted (when: NotifyWhen, call: CallDetail): boolean {
  if (when === 'all') return true
  if (when === 'messages') return call.messages.length > 0
  return (call.outcome !== null && FAILED.has(call.outcome)) || call.errors.length > 0
}

export interface NoticeOptions {
  readonly number: NumberShown
  readonly transcripts: boolean
}

const iso = (ms: number): string => new Date(ms).toISOString()

export function callNotice (id: string, call: CallDetail, extras: readonly MessageExtra[], options: NoticeOptions): CallNotice {
  const extra = new Map(extras.map((e) => [e.seq, e]))
  const callerNumber = options.number(call.callerNumber)
  const messages = call.messages.map((m) => ({
    seq: m.seq,
    name: m.name,
    number: options.number(m.number),
    text: m.text,
    at: iso(m.at),
    durationMs: m.durationMs,
    hasRecording: m.recordingPath !== null,
    ...(options.transcripts ? { transcript: extra.get(m.seq)?.transcript ?? null } : {}),
  }))
  return {
    event: 'call.ended',
    id,
    call: {
      uuid: call.uuid,
      did: call.did,
      callerNumber,
      callerName: call.callerName,
      contact: call.contact,
      script: call.script,
      startedAt: iso(call.startedAt),
      endedAt: call.endedAt === null ? null : iso(call.endedAt),
      durationMs: call.durationMs,
      outcome: call.outcome,
      rejectionReason: call.rejectionReason,
      errorCode: call.errorCode,
      hangupCause: call.hangupCause,
      costEstimate: call.costEstimate,
    },
    summary: summary(call, callerNumber, messages.length),
    ...(options.transcripts
      ? { transcript: call.turns.map((t) => ({ role: t.role, text: t.text, at: iso(t.at), interrupted: t.interrupted })) }
      : {}),
    messages,
    errors: call.errors.map((e) => ({ code: e.code, message: e.message, provider: e.provider })),
  }
}

/** One line a person reads first: `Message taken: Anna Rossi (+39••••••••67) called +390212345678, 1:02, 1 message.` */
function summary (call: CallDetail, number: string | null, messages: number): string {
  const who = [call.contact ?? call.callerName, number === null ? null : (call.contact ?? call.callerName) === null ? number : `(${number})`]
    .filter((x) => x !== null).join(' ') || 'An anonymous caller'
  const outcome = outcomeText(call)
  const parts = [`${outcome.charAt(0).toUpperCase()}${outcome.slice(1).replace(/_/g, ' ')}: ${who} called ${call.did}, ${formatDuration(call.durationMs)}`]
  if (messages > 0) parts.push(`${messages} message${messages === 1 ? '' : 's'}`)
  if (call.errorCode !== null) parts.push(`error ${call.errorCode}`)
  return `${parts.join(', ')}.`
}

/** Plain text for the e-mail body (no HTML: nothing a caller says can become markup). */
export function noticeText (notice: CallNotice): string {
  const out = [notice.summary, '']
  const c = notice.call
  out.push(`Caller: ${[c.callerName, c.callerNumber].filter((x) => x !== null).join(' ') || 'anonymous'}${c.contact === null ? '' : ` (contact: ${c.contact})`}`)
  out.push(`Number called: ${c.did}`, `Started: ${c.startedAt}`, `Outcome: ${c.outcome ?? 'in progress'}`, `Cost estimate: ${c.costEstimate.toFixed(4)}`)
  for (const m of notice.messages) {
    out.push('', `Message ${m.seq}${m.name === null ? '' : ` from ${m.name}`}${m.number === null ? '' : ` (${m.number})`}: ${m.text}`)
    if (m.transcript !== undefined && m.transcript !== null) out.push(`Transcript of the recording: ${m.transcript}`)
  }
  if (notice.transcript !== undefined && notice.transcript.length > 0) {
    out.push('', 'Conversation:')
    for (const t of notice.transcript) out.push(`  ${t.role === 'caller' ? 'Caller' : 'Agent'}: ${t.text}${t.interrupted ? ' [interrupted]' : ''}`)
  }
  if (notice.errors.length > 0) {
    out.push('', 'Errors:')
    for (const e of notice.errors) out.push(`  ${e.code}${e.provider === null ? '' : ` (${e.provider})`}: ${e.message}`)
  }
  return out.join('\n') + '\n'
}
