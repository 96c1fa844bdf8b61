import { formatDuration } from '../records/format.ts'
import type { MessageToReturn } from '../records/owner-sql.ts'
import type { LiveCall } from '../notify/call-watch.ts'
import { html, when, type Html } from './html.ts'
import type { View } from './pages-calls.ts'

export function liveBody (calls: readonly LiveCall[], now: number, view: View): Html {
  const rows = calls.map((c) => html`<tr><td><a href="/console/calls/${encodeURIComponent(c.uuid)}">${c.callerName ?? ''} <span class="muted">${view.number(c.callerNumber) ?? 'anonymous'}</span></a></td>
<td>${c.did}</td><td>${c.script ?? '-'}</td><td class="phase">${c.phase}</td><td>${c.turns}</td><td>${formatDuration(now - c.startedAt)}</td></tr>`)
  return html`<h1>Live calls</h1><p class="muted">${calls.length} in progress · refreshes every 5 s</p>
<table id="live"><thead><tr><th>Caller</th><th>Number called</th><th>Route</th><th>Phase</th><th>Turns</th><th>Duration</th></tr></thead><tbody>${rows}</tbody></table>`
}

export function messagesBody (messages: readonly MessageToReturn[], showAll: boolean, csrf: string, view: View): Html {
  const items = messages.map((m) => {
    const done = m.handledAt !== null
    const who = [m.name ?? m.callerName, view.number(m.number ?? m.callerNumber)].filter((x) => x !== null && x !== '').join(' · ')
    return html`<tr class="${done ? 'done' : 'todo'}"><td>${when(m.at, view.timeZone)}</td>
<td class="who">${who === '' ? 'anonymous' : who}</td>
<td><p class="text">${m.text}</p>${m.transcript === null ? '' : html`<p class="muted">Transcript: <span class="transcript">${m.transcript}</span></p>`}
${m.recordingPath === null ? '' : html`<audio controls preload="none" src="/console/audio/${encodeURIComponent(m.callUuid)}/${m.seq}"></audio>`}
<p><a href="/console/calls/${encodeURIComponent(m.callUuid)}">the call</a></p></td>
<td><form method="post" action="/console/messages/${encodeURIComponent(m.callUuid)}/${m.seq}">
<input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="done" value="${done ? '0' : '1'}">
<button type="submit">${done ? 'Mark not done' : 'Mark done'}</button></form>${done ? html`<span class="ok">done ${when(m.handledAt, view.timeZone)}</span>` : ''}</td></tr>`
  })
  return html`<h1>Messages to return</h1>
<p>${showAll ? html`<a href="/console/messages">Only those to return</a>` : html`<a href="/console/messages?all=1">Show done ones too</a>`}</p>
<table id="messages"><thead><tr><th>When</th><th>From</th><th>Message</th><th></th></tr></thead><tbody>${items}</tbody></table>
${messages.length === 0 ? html`<p class="muted">Nothing to return.</p>` : ''}`
}

export function loginBody (failed: boolean): Html {
  return html`<h1>Log in</h1>${failed ? html`<p class="bad">Wrong token.</p>` : ''}
<form method="post" action="/console/login"><label>Token <input type="password" name="token" autocomplete="current-password"></label> <button type="submit">Log in</button></form>`
}
