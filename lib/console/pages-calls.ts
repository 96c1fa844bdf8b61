import { formatDuration, outcomeText } from '../records/format.ts'
import type { MessageExtra, OutboxRow } from '../records/owner-sql.ts'
import { RECORDED_OUTCOMES, type CallDetail, type CallSummary } from '../records/types.ts'
import type { NumberShown } from '../notify/mask.ts'
import { Html, html, when } from './html.ts'
import { waterfall } from './waterfall.ts'

export interface CallListQuery {
  readonly from?: string | undefined
  readonly to?: string | undefined
  readonly outcome?: string | undefined
  readonly caller?: string | undefined
  readonly did?: string | undefined
  readonly q?: string | undefined
}

export interface View {
  readonly number: NumberShown
  readonly timeZone?: string | undefined
}

const SELECTED = new Html('selected')

const outcomeClass = (o: string | null): string => o === 'failed' || o === 'interrupted' || o === 'handshake_failed' ? 'bad' : ''

export function callListBody (calls: readonly CallSummary[], query: CallListQuery, view: View): Html {
  const option = (o: string): Html => html`<option value="${o}" ${query.outcome === o ? SELECTED : ''}>${o.replace(/_/g, ' ')}</option>`
  const filters = html`<form class="filters" method="get" action="/console/calls">
<label>From<input type="date" name="from" value="${query.from ?? ''}"></label>
<label>To<input type="date" name="to" value="${query.to ?? ''}"></label>
<label>Outcome<select name="outcome"><option value="">any</option>${RECORDED_OUTCOMES.map(option)}</select></label>
<label>Caller<input name="caller" value="${query.caller ?? ''}" placeholder="+39..."></label>
<label>Number called<input name="did" value="${query.did ?? ''}"></label>
<label>Transcript contains<input name="q" value="${query.q ?? ''}"></label>
<label>&nbsp;<button type="submit">Filter</button></label></form>`
  const rows = calls.map((c) => html`<tr>
<td><a href="/console/calls/${encodeURIComponent(c.uuid)}">${when(c.startedAt, view.timeZone)}</a></td>
<td class="caller">${c.contact ?? c.callerName ?? ''} <span class="muted">${view.number(c.callerNumber) ?? 'anonymous'}</span></td>
<td>${c.did}</td><td>${formatDuration(c.durationMs)}</td>
<td class="${outcomeClass(c.outcome)}">${outcomeText(c)}</td><td>${c.costEstimate.toFixed(4)}</td></tr>`)
  return html`<h1>Calls</h1>${filters}
<table id="calls"><thead><tr><th>Started</th><th>Caller</th><th>Number called</th><th>Duration</th><th>Outcome</th><th>Cost</th></tr></thead>
<tbody>${rows}</tbody></table>${calls.length === 0 ? html`<p class="muted">No calls match.</p>` : ''}`
}

export function callPageBody (call: CallDetail, extras: readonly MessageExtra[], purgedAt: number | null, deliveries: readonly OutboxRow[], view: View): Html {
  const extra = new Map(extras.map((e) => [e.seq, e]))
  const who = [call.contact ?? call.callerName, view.number(call.callerNumber)].filter((x) => x !== null && x !== '').join(' · ')
  const facts: Array<[string, unknown]> = [
    ['Caller', who === '' ? 'anonymous' : who],
    ['Number called', call.did],
    ['Script', call.script ?? '-'],
    ['Started', when(call.startedAt, view.timeZone)],
    ['Duration', formatDuration(call.durationMs)],
    ['Outcome', outcomeText(call)],
    ['Hang-up cause', call.hangupCause ?? '-'],
    ['Cost estimate', call.costEstimate.toFixed(4)],
    ['Usage', `STT ${call.sttSeconds.toFixed(1)} s · LLM ${call.llmInputTokens} in / ${call.llmOutputTokens} out tokens · TTS ${call.ttsCharacters} characters`],
  ]
  const turns = call.turns.map((t) => html`<div class="turn ${t.role}${t.interrupted ? ' interrupted' : ''}"><span class="muted">${t.role === 'caller' ? 'Caller' : 'Agent'}</span> ${t.text}${t.interrupted ? html`<span class="tag">interrupted</span>` : ''}</div>`)
  const messages = call.messages.map((m) => {
    const e = extra.get(m.seq)
    return html`<div class="message"><p><strong>Message ${m.seq}</strong>${m.name === null ? '' : ` from ${m.name}`} <span class="muted">${view.number(m.number) ?? ''} · ${when(m.at, view.timeZone)}</span></p>
<p>${m.text}</p>${e?.transcript === null || e?.transcript === undefined ? '' : html`<p><em>Transcript:</em> <span class="transcript">${e.transcript}</span></p>`}
${m.recordingPath === null ? '' : html`<audio controls preload="none" src="/console/audio/${encodeURIComponent(call.uuid)}/${m.seq}"></audio>`}</div>`
  })
  const errors = call.errors.map((e) => html`<tr><td>${when(e.at, view.timeZone)}</td><td>${e.code}</td><td>${e.provider ?? ''}</td><td>${e.message}</td></tr>`)
  return html`<h1>Call</h1>
${purgedAt === null ? '' : html`<p class="muted" id="purged">Audio and transcripts deleted by retention on ${when(purgedAt, view.timeZone)}.</p>`}
<table class="facts">${facts.map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</table>
<section><h2>Transcript</h2>${turns.length === 0 ? html`<p class="muted">No conversation.</p>` : turns}</section>
<section><h2>Latency per turn</h2>${waterfall(call.latency)}</section>
${call.recordingPath === null ? '' : html`<section><h2>Recording</h2><p class="muted">The whole call: caller left, agent right.</p><audio id="call-recording" controls preload="none" src="/console/audio/${encodeURIComponent(call.uuid)}/call"></audio></section>`}
${messages.length === 0 ? '' : html`<section><h2>Messages</h2>${messages}</section>`}
${deliveries.length === 0 ? '' : html`<section><h2>Notifications</h2><table id="notifications"><tr><th>Channel</th><th>Status</th><th>Attempts</th><th>Sent</th><th>Last error</th></tr>${deliveries.map((d) =>
  html`<tr><td>${d.channel}</td><td class="${d.status === 'failed' ? 'bad' : d.status === 'sent' ? 'ok' : ''}">${d.status}</td><td>${d.attempts}</td><td>${when(d.sentAt, view.timeZone)}</td><td>${d.lastError ?? ''}</td></tr>`)}</table></section>`}
${errors.length === 0 ? '' : html`<section><h2>Errors</h2><table id="errors"><tr><th>At</th><th>Code</th><th>Provider</th><th>Message</th></tr>${errors}</table></section>`}`
}
