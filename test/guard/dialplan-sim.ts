import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { XMLParser } from 'fast-xml-parser'

/**
 * A small model of mod_dialplan_xml, enough to ask "which extension takes this call?":
 * extensions in file order, conditions ANDed (the default break="on-false"), `regex="any"`
 * blocks with <regex> children, `continue="true"`, fields that are caller-profile names or
 * `${variables}`. `$${vars}` are expanded first, as FreeSWITCH's pre-processor does.
 *
 * Expressions are PCRE in FreeSWITCH; the pack only uses the subset JavaScript shares, plus
 * a leading `(?i)`, turned into the `i` flag here. One difference matters and is handled in
 * the pack itself: PCRE's `$` also matches before a final newline, so the control-character
 * extension runs before every anchored expression.
 */

export const PACK_DIR = new URL('../../dialplan/', import.meta.url).pathname
export const CONF_DIR = join(PACK_DIR, 'freeswitch/conf')

export interface SimCondition {
  readonly field?: string
  readonly expression?: string
  readonly regexAny?: ReadonlyArray<{ field: string, expression: string }>
}
export interface SimExtension {
  readonly name: string
  readonly continue: boolean
  readonly conditions: readonly SimCondition[]
}

const parser = new XMLParser({
  ignoreAttributes: false,
  // Attributes prefixed: <condition regex="any"> has both a `regex` attribute and <regex> children.
  attributeNamePrefix: '@',
  isArray: (name) => ['context', 'extension', 'condition', 'regex', 'action', 'anti-action', 'X-PRE-PROCESS'].includes(name),
})

export function listPackFiles (dir = PACK_DIR): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry)
    if (statSync(p).isDirectory()) out.push(...listPackFiles(p))
    else out.push(p)
  }
  return out.sort()
}

/** `<X-PRE-PROCESS cmd="set" data="name=value"/>` lines of phone_agent_vars.xml. */
export function packVars (): Record<string, string> {
  const doc = parser.parse(readFileSync(join(CONF_DIR, 'phone_agent_vars.xml'), 'utf8')) as { include: { 'X-PRE-PROCESS': Array<{ '@cmd': string, '@data': string }> } }
  const vars: Record<string, string> = {}
  for (const pp of doc.include['X-PRE-PROCESS']) {
    if (pp['@cmd'] !== 'set') continue
    const eq = pp['@data'].indexOf('=')
    vars[pp['@data'].slice(0, eq)] = pp['@data'].slice(eq + 1)
  }
  return vars
}

export function expandVars (text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$\{([A-Za-z0-9_]+)\}/g, (whole, name: string) => vars[name] ?? whole)
}

export function toJsRegex (expression: string): RegExp {
  const caseless = expression.startsWith('(?i)')
  return new RegExp(caseless ? expression.slice(4) : expression, caseless ? 'i' : '')
}

type RawCondition = { '@field'?: string, '@expression'?: string, '@regex'?: string, regex?: Array<{ '@field': string, '@expression': string }> }
type RawExtension = { '@name': string, '@continue'?: string, condition?: RawCondition[] }

function toExtension (raw: RawExtension): SimExtension {
  return {
    name: raw['@name'],
    continue: raw['@continue'] === 'true',
    conditions: (raw.condition ?? []).map((c): SimCondition => {
      if (c['@regex'] !== undefined) {
        // Only regex="any" is used by the pack; anything else must not pass silently.
        if (c['@regex'] !== 'any') throw new Error(`unsupported regex mode ${c['@regex']}`)
        return { regexAny: (c.regex ?? []).map((r) => ({ field: r['@field'], expression: r['@expression'] })) }
      }
      return { field: c['@field'], expression: c['@expression'] }
    }),
  }
}

/** Extensions of one dialplan file: either an <include> of bare extensions or of a <context>. */
export function loadExtensions (relPath: string, vars: Record<string, string>): SimExtension[] {
  const text = expandVars(readFileSync(join(CONF_DIR, relPath), 'utf8'), vars)
  const doc = parser.parse(text) as { include: { extension?: RawExtension[], context?: Array<{ extension: RawExtension[] }> } }
  const raw = doc.include.context?.[0]?.extension ?? doc.include.extension ?? []
  return raw.map(toExtension)
}

function fieldValue (field: string, channel: Record<string, string>): string {
  const m = /^\$\{([^}]+)\}$/.exec(field)
  return channel[m ? m[1]! : field] ?? ''
}

function conditionMatches (c: SimCondition, channel: Record<string, string>): boolean {
  if (c.regexAny !== undefined) return c.regexAny.some((r) => toJsRegex(r.expression).test(fieldValue(r.field, channel)))
  if (c.field === undefined || c.expression === undefined) return true
  return toJsRegex(c.expression).test(fieldValue(c.field, channel))
}

/** Name of the extension whose actions the call would run (the first match without continue). */
export function route (extensions: readonly SimExtension[], channel: Record<string, string>): string | undefined {
  for (const ext of extensions) {
    if (ext.conditions.every((c) => conditionMatches(c, channel)) && !ext.continue) return ext.name
  }
  return undefined
}

/** Every expression in a file, for the "compiles as JS" check. */
export function allExpressions (extensions: readonly SimExtension[]): string[] {
  return extensions.flatMap((e) => e.conditions.flatMap((c) => c.regexAny !== undefined ? c.regexAny.map((r) => r.expression) : c.expression !== undefined ? [c.expression] : []))
}
