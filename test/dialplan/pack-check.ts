import { relative } from 'node:path'
import { XMLParser } from 'fast-xml-parser'
import { activeText, preprocessFile, xmlProblem, type PreprocessResult } from './fs-preprocess.ts'

/**
 * What must hold for a conf tree with the pack installed, as FreeSWITCH would load it. Returns
 * one sentence per problem, so a test can both require none (the pack as shipped) and require
 * some (the pack with an old defect put back).
 */

/** RFC 5737 documentation ranges: examples, never real addresses. */
export const DOC_ADDRESS = /\b(?:192\.0\.2|198\.51\.100|203\.0\.113)\.\d{1,3}\b/

/** Files of the pack as installed (their names in the conf tree). */
export const PACK_FILE = /(?:^|\/)(?:phone_agent_vars\.xml|phone_agent_[a-z_]+\.xml|00_phone_agent\.xml|acl\.conf\.xml|event_socket\.conf\.xml|public\.xml)$/

export interface LoadedConf {
  readonly result: PreprocessResult
  readonly doc: Record<string, unknown>
}

/** What a STUN lookup answers in these tests: a carrier-NAT address, not the server's own. */
export const STUN_ANSWER = '100.64.0.1'

export function loadConf (conf: string): LoadedConf {
  const result = preprocessFile(conf, 'freeswitch.xml', { stun: () => STUN_ANSWER })
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    isArray: (name) => ['section', 'context', 'extension', 'condition', 'action', 'configuration', 'list', 'node', 'param', 'profile', 'gateway', 'regex', 'variable'].includes(name),
  })
  return { result, doc: parser.parse(result.text) as Record<string, unknown> }
}

type Node = Record<string, unknown>
const arr = (v: unknown): Node[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]) as Node[]

export function section (loaded: LoadedConf, name: string): Node | undefined {
  const root = loaded.doc.document as Node | undefined
  return arr(root?.section).find((s) => s['@name'] === name)
}

export function configuration (loaded: LoadedConf, name: string): Node | undefined {
  return arr(section(loaded, 'configuration')?.configuration).find((c) => c['@name'] === name)
}

export function contextNames (loaded: LoadedConf): string[] {
  return arr(section(loaded, 'dialplan')?.context).map((c) => String(c['@name']))
}

export function context (loaded: LoadedConf, name: string): Node | undefined {
  return arr(section(loaded, 'dialplan')?.context).find((c) => c['@name'] === name)
}

export function profileParams (loaded: LoadedConf, profile: string): Record<string, string> {
  const sofia = configuration(loaded, 'sofia.conf')
  const p = arr((sofia?.profiles as Node | undefined)?.profile).find((x) => x['@name'] === profile)
  const out: Record<string, string> = {}
  for (const param of arr((p?.settings as Node | undefined)?.param)) out[String(param['@name'])] = String(param['@value'])
  return out
}

export function gatewayNames (loaded: LoadedConf, profile: string): string[] {
  const sofia = configuration(loaded, 'sofia.conf')
  const p = arr((sofia?.profiles as Node | undefined)?.profile).find((x) => x['@name'] === profile)
  return arr((p?.gateways as Node | undefined)?.gateway).map((g) => String(g['@name']))
}

export function aclNodes (loaded: LoadedConf, list: string): Node[] {
  const acl = configuration(loaded, 'acl.conf')
  const l = arr((acl?.['network-lists'] as Node | undefined)?.list).find((x) => x['@name'] === list)
  return arr(l?.node)
}

export interface Expectations {
  /** Placeholders allowed to stay active (the pack as shipped, before step 4). */
  readonly allowPlaceholders?: boolean
  readonly publicIp?: string
}

export function checkLoaded (conf: string, expect: Expectations = {}): { problems: string[], loaded: LoadedConf } {
  const loaded = loadConf(conf)
  const { result } = loaded
  const problems: string[] = []
  const rel = (f: string): string => relative(conf, f)

  for (const p of result.problems) {
    if (p.kind === 'unset-variable') {
      // Vanilla has a few of its own (in comments, and internal_ssl_dir); ours must have none.
      if (PACK_FILE.test(p.file) || p.detail.startsWith('phone_agent_') || p.detail.startsWith('external_')) {
        problems.push(`unset variable $\${${p.detail}} in ${rel(p.file)}:${p.line}`)
      }
      continue
    }
    problems.push(`${p.kind}: ${p.detail} (${rel(p.file)}:${p.line})`)
  }

  const readTwice = result.files.filter((f, i) => PACK_FILE.test(f) && result.files.indexOf(f) !== i)
  for (const f of new Set(readTwice)) problems.push(`${rel(f)} is read more than once (it includes itself)`)

  const xml = xmlProblem(result.text)
  if (xml !== undefined) problems.push(`the pre-processed XML does not parse: ${xml}`)

  if (!expect.allowPlaceholders) {
    for (const line of activeText(result.text).split('\n')) {
      if (/REPLACE_ME/.test(line)) problems.push(`placeholder left in an active line: ${line.trim()}`)
    }
    // Documentation addresses only in what the pack put there: vanilla has its own examples
    // (directory/default/brian.xml trusts 192.0.2.0/24).
    for (const [file, text] of result.textByFile) {
      if (!PACK_FILE.test(file) && !/sip_profiles\/external\//.test(file)) continue
      for (const line of activeText(text).split('\n')) {
        if (DOC_ADDRESS.test(line)) problems.push(`placeholder left in an active line: ${line.trim()} (${rel(file)})`)
      }
    }
    for (const [name, value] of result.vars) {
      if (/REPLACE_ME/.test(value) || DOC_ADDRESS.test(value)) problems.push(`variable ${name} is a placeholder: ${value}`)
    }
  }

  if (!expect.allowPlaceholders && result.vars.get('default_password') === '1234') {
    problems.push('default_password is still 1234 (vanilla): every directory user, the fallback\'s too, has a known password')
  }

  if (expect.publicIp !== undefined) {
    for (const name of ['external_rtp_ip', 'external_sip_ip']) {
      const v = result.vars.get(name)
      if (v !== expect.publicIp) problems.push(`${name} is ${v ?? '(unset)'}, expected ${expect.publicIp}`)
    }
  }

  if (xml === undefined) {
    const gateway = result.vars.get('phone_agent_gateway')
    if (!expect.allowPlaceholders && gateway !== undefined && !gatewayNames(loaded, 'external').includes(gateway)) {
      problems.push(`phone_agent_gateway names ${gateway}, which the external profile does not define`)
    }
    const names = contextNames(loaded)
    for (const c of ['public', 'phone_agent_outbound', 'phone_agent_fallback']) {
      if (names.filter((n) => n === c).length !== 1) problems.push(`context ${c} is defined ${names.filter((n) => n === c).length} times`)
    }
    const pub = context(loaded, 'public')
    for (const ext of arr(pub?.extension)) {
      for (const cond of arr(ext.condition)) {
        for (const action of arr(cond.action)) {
          if (action['@application'] === 'transfer' && /XML default$/.test(String(action['@data']))) {
            problems.push(`public extension ${String(ext['@name'])} transfers outside callers to the default context`)
          }
        }
      }
    }
  }
  return { problems, loaded }
}
