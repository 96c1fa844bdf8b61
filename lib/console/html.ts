import { formatTime } from '../records/format.ts'

/**
 * Server-rendered HTML with one rule: every value goes through `esc` (or `attr`) on its way
 * into markup. Caller names, transcripts and messages are caller-controlled; numbers and
 * outcomes come from the network or the database. `Html` marks strings already escaped, so
 * the page builders compose fragments without escaping twice or forgetting once.
 */

export class Html {
  constructor (readonly text: string) {}
  toString (): string { return this.text }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function esc (value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c)
}

/** A template tag: interpolated values are escaped unless they are `Html` (or arrays of it). */
export function html (strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? ''
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '')
  })
  return new Html(out)
}

function render (v: unknown): string {
  if (v instanceof Html) return v.text
  if (Array.isArray(v)) return v.map(render).join('')
  if (v === null || v === undefined || v === false) return ''
  return esc(v)
}

/** `2026-12-01 10:00:00` in the zone (the machine's when absent); `-` for none. */
export function when (ms: number | null, timeZone?: string): string {
  return ms === null ? '-' : formatTime(ms, timeZone)
}

const STYLE = `
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:.6em 1.2em;display:flex;gap:1.4em;align-items:center}
header a{color:#cfe0ff;text-decoration:none}header a.on{color:#fff;font-weight:600}
main{padding:1em 1.2em;max-width:1100px}
table{border-collapse:collapse;width:100%;background:#fff}td,th{padding:.35em .6em;border-bottom:1px solid #e3e6eb;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}.muted{color:#6b7585}.bad{color:#b3261e}.ok{color:#1b6e3a}
form.filters{display:flex;flex-wrap:wrap;gap:.6em;margin:.6em 0 1em}form.filters label{display:flex;flex-direction:column;font-size:.85em}
.turn{margin:.25em 0;padding:.35em .6em;border-radius:6px;max-width:80%}.caller{background:#e8f0fe}.agent{background:#fff;border:1px solid #e3e6eb;margin-left:auto}
.interrupted{border-style:dashed}.tag{font-size:.75em;padding:.1em .4em;border-radius:4px;background:#fde7e7;color:#b3261e;margin-left:.4em}
section{margin:1.2em 0}h2{font-size:1.1em;margin:.2em 0 .5em}button{cursor:pointer}
`

export interface PageOptions {
  readonly title: string
  readonly nav: 'live' | 'calls' | 'messages' | 'digest'
  readonly body: Html
}

export function page (options: PageOptions): string {
  const link = (href: string, key: PageOptions['nav'], label: string): Html =>
    html`<a href="${href}" class="${options.nav === key ? 'on' : ''}">${label}</a>`
  return '<!doctype html>' + html`<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · phone-agent</title><style>${new Html(STYLE)}</style></head>
<body><header><strong>phone-agent</strong>${link('/console/live', 'live', 'Live calls')}${link('/console/calls', 'calls', 'Calls')}${link('/console/messages', 'messages', 'Messages to return')}${link('/console/digest', 'digest', 'Digest')}</header>
<main>${options.body}</main></body></html>`.text
}
