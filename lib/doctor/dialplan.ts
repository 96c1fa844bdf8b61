import { XMLParser } from 'fast-xml-parser'

/**
 * "Which extension would take this call?" asked of the dialplan FreeSWITCH has loaded (the
 * `xml_locate dialplan context name CTX` output), without placing a call. A model of
 * mod_dialplan_xml's parse_exten(): extensions in order; the conditions of an extension are
 * ANDed (break="on-false", the default); `regex="any"|"all"` conditions hold <regex> children;
 * a field is a caller-profile name or a `${variable}`; the first extension that matches and
 * does not say continue="true" is the one whose actions run.
 *
 * Expressions are PCRE in FreeSWITCH and JavaScript here; the pack uses their common subset
 * plus a leading (?i). An expression JavaScript cannot compile is reported, not guessed.
 */

export interface Action { readonly app: string, readonly data: string }
export interface Routed { readonly extension: string, readonly actions: readonly Action[] }

type Attr = Record<string, unknown>
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  isArray: (n) => ['context', 'extension', 'condition', 'regex', 'action', 'anti-action'].includes(n),
})
const arr = (v: unknown): Attr[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]) as Attr[]
const s = (v: unknown): string | undefined => (v === undefined ? undefined : String(v))

export class UnsupportedExpression extends Error {}

/** The extensions of the context in an xml_locate answer (the <context> element itself). */
export function parseContext (xml: string): Attr[] | undefined {
  let doc: Attr
  try {
    doc = parser.parse(xml) as Attr
  } catch {
    return undefined
  }
  const ctx = arr(doc.context)[0]
  return ctx === undefined ? undefined : arr(ctx.extension)
}

function regex (expression: string): RegExp {
  const caseless = expression.startsWith('(?i)')
  try {
    return new RegExp(caseless ? expression.slice(4) : expression, caseless ? 'i' : '')
  } catch {
    throw new UnsupportedExpression(expression)
  }
}

function value (field: string, channel: Readonly<Record<string, string>>): string {
  const m = /^\$\{([^}]+)\}$/.exec(field)
  return channel[m ? m[1]! : field] ?? ''
}

function conditionHolds (c: Attr, channel: Readonly<Record<string, string>>): boolean {
  const mode = s(c['@regex'])
  if (mode !== undefined) {
    const results = arr(c.regex).map((r) => regex(s(r['@expression']) ?? '').test(value(s(r['@field']) ?? '', channel)))
    if (mode === 'any') return results.some(Boolean)
    if (mode === 'all') return results.every(Boolean)
    if (mode === 'xor') return results.filter(Boolean).length === 1
    throw new UnsupportedExpression(`regex="${mode}"`)
  }
  const field = s(c['@field'])
  const expression = s(c['@expression'])
  if (field === undefined || expression === undefined) {
    // Time-of-day and other attribute conditions are outside this model.
    for (const k of Object.keys(c)) if (k.startsWith('@') && !['@break', '@require-nested'].includes(k)) throw new UnsupportedExpression(`condition ${k.slice(1)}`)
    return true
  }
  return regex(expression).test(value(field, channel))
}

export function route (extensions: readonly Attr[], channel: Readonly<Record<string, string>>): Routed | undefined {
  for (const ext of extensions) {
    const conditions = arr(ext.condition)
    if (!conditions.every((c) => conditionHolds(c, channel))) continue
    if (s(ext['@continue']) === 'true') continue
    const actions = conditions.flatMap((c) => arr(c.action).map((a) => ({ app: s(a['@application']) ?? '', data: s(a['@data']) ?? '' })))
    return { extension: s(ext['@name']) ?? '(unnamed)', actions }
  }
  return undefined
}
