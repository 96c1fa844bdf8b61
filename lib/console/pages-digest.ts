import type { Digest } from '../notify/digest.ts'
import { nextDay, previousDay } from '../notify/digest.ts'
import { html, type Html } from './html.ts'

const label = (s: string): string => s.replace(/_/g, ' ')

/** The same figures as the e-mailed digest, for any day (`?day=YYYY-MM-DD`). */
export function digestBody (d: Digest): Html {
  const f = d.figures
  const rows = (entries: Array<[string, number]>): Html[] => entries.map(([k, n]) => html`<tr><td>${label(k)}</td><td>${n}</td></tr>`)
  return html`<h1>Digest for ${d.day}</h1>
<p><a href="/console/digest?day=${previousDay(d.day)}">← ${previousDay(d.day)}</a> · <a href="/console/digest?day=${nextDay(d.day)}">${nextDay(d.day)} →</a></p>
<table id="digest">
<tr><th>Calls</th><td>${f.calls}</td></tr>
<tr><th>Messages taken</th><td>${f.messagesTaken}</td></tr>
<tr><th>Messages waiting (all days)</th><td><a href="/console/messages">${f.messagesWaiting}</a></td></tr>
<tr><th>Transfers</th><td>${f.transfers}</td></tr>
<tr><th>Refused calls</th><td>${Object.values(f.refusals).reduce((a, b) => a + b, 0)}</td></tr>
<tr><th>Provider errors</th><td>${f.providerErrors.reduce((a, e) => a + e.count, 0)}</td></tr>
<tr><th>Cost estimate</th><td>${f.cost.toFixed(4)}</td></tr></table>
<section><h2>By outcome</h2><table id="outcomes">${rows(Object.entries(f.byOutcome).sort())}</table></section>
<section><h2>Refused, by reason</h2><table id="refusals">${rows(Object.entries(f.refusals).sort())}</table></section>
<section><h2>Provider errors</h2><table id="provider-errors">${f.providerErrors.map((e) => html`<tr><td>${e.provider}</td><td>${e.code}</td><td>${e.count}</td></tr>`)}</table></section>`
}
