import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * The install steps of docs/freeswitch-pack.md, done by code on a copy of a vanilla conf tree.
 * Each function is one numbered step of that page; change both together.
 */

export const PACK_DIR = new URL('../../dialplan/', import.meta.url).pathname
export const PACK_CONF = join(PACK_DIR, 'freeswitch/conf')
export const SKELETON = new URL('./vanilla/', import.meta.url).pathname

/** The include line of step 3, appended at the end of vars.xml. */
export const VARS_INCLUDE_LINE = '<X-PRE-PROCESS cmd="include" data="phone_agent_vars.xml"/>'

export interface InstallAnswers {
  readonly provider: 'peoplefone' | 'messagenet'
  readonly variant: 'register' | 'ip-auth'
  readonly dids: string
  readonly outboundCid: string
  readonly eslPassword: string
  readonly publicIp: string
  readonly defaultPassword: string
  /** Extra trusted ranges replacing a provider's own REPLACE_ME node (Messagenet's). */
  readonly providerRanges?: readonly string[]
  readonly username?: string
  readonly password?: string
}

/** A real vanilla tree when one is configured, for the same tests against FreeSWITCH's own files. */
export function realVanillaTree (): string | undefined {
  for (const dir of [process.env.FREESWITCH_VANILLA_CONF, '/usr/share/freeswitch/conf/vanilla']) {
    if (dir !== undefined && dir !== '' && existsSync(join(dir, 'freeswitch.xml'))) return dir
  }
  return undefined
}

export function copyTree (from: string): { dir: string, remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'fs-conf-'))
  cpSync(from, dir, { recursive: true })
  return { dir, remove: () => { rmSync(dir, { recursive: true, force: true }) } }
}

const edit = (path: string, fn: (text: string) => string): void => {
  writeFileSync(path, fn(readFileSync(path, 'utf8')))
}

/** Steps 1-3: copy the pack, remove vanilla's DID example, include our variables. */
export function copyPack (conf: string): void {
  cpSync(PACK_CONF, conf, { recursive: true })
  rmSync(join(conf, 'dialplan/public/00_inbound_did.xml'), { force: true })
  edit(join(conf, 'vars.xml'), (t) => {
    const end = t.lastIndexOf('</include>')
    return `${t.slice(0, end)}  ${VARS_INCLUDE_LINE}\n${t.slice(end)}`
  })
}

/** Step 4: the REPLACE_ME values of phone_agent_vars.xml. */
export function fillVars (conf: string, a: InstallAnswers): void {
  const values: Record<string, string> = {
    phone_agent_dids: a.dids,
    phone_agent_gateway: a.provider,
    phone_agent_outbound_cid: a.outboundCid,
    phone_agent_esl_password: a.eslPassword,
  }
  edit(join(conf, 'phone_agent_vars.xml'), (t) => t.replace(/data="(phone_agent_\w+)=REPLACE_ME\w*"/g, (whole, name: string) => {
    const v = values[name]
    if (v === undefined) throw new Error(`no answer for ${name}`)
    return `data="${name}=${v}"`
  }))
}

/** Step 5: the provider's nodes replace the REPLACE_ME node of trusted-providers. */
export function fillAcl (conf: string, a: InstallAnswers): void {
  const nodes = readFileSync(join(PACK_DIR, 'trunks', a.provider, 'acl-nodes.xml'), 'utf8')
    .split('\n').filter((l) => /^\s*<node /.test(l)).map((l) => l.trim())
  const lines = nodes.filter((l) => !l.includes('192.0.2.')).concat((a.providerRanges ?? []).map((c) => `<node type="allow" cidr="${c}"/>`))
  edit(join(conf, 'autoload_configs/acl.conf.xml'), (t) => {
    const m = /<list name="trusted-providers"[^>]*>[^]*?<\/list>/.exec(t)
    if (!m) throw new Error('no trusted-providers list')
    const body = `<list name="trusted-providers" default="deny">\n${lines.map((l) => `      ${l}`).join('\n')}\n    </list>`
    return t.replace(m[0], body)
  })
}

/** Steps 7-8: the snippets' params into the profiles (replacing active lines of the same name). */
export function applySnippet (conf: string, profile: 'external' | 'internal'): void {
  const snippet = readFileSync(join(PACK_DIR, 'snippets', `${profile}-profile.xml`), 'utf8')
  const params = [...snippet.replace(/<!--[^]*?-->/g, '').matchAll(/<param name="([^"]+)" value="([^"]*)"\/>/g)].map((m) => [m[1]!, m[2]!] as const)
  edit(join(conf, 'sip_profiles', `${profile}.xml`), (t) => {
    for (const [name, value] of params) {
      const active = new RegExp(`^(\\s*)<param name="${name}" value="[^"]*"\\/>`, 'm')
      const line = `<param name="${name}" value="${value}"/>`
      // Function replacements: the values hold `$${...}`, which a replacement string would eat.
      t = active.test(t)
        ? t.replace(active, (_w, indent: string) => `${indent}${line}`)
        : t.replace(/(\n\s*)<\/settings>/, (_w, end: string) => `\n    ${line}${end}</settings>`)
    }
    return t
  })
}

/** Step 9: the trunk's gateway file, its REPLACE_ME filled. */
export function installGateway (conf: string, a: InstallAnswers): void {
  const text = readFileSync(join(PACK_DIR, 'trunks', a.provider, `gateway-${a.variant}.xml`), 'utf8')
  const filled = text
    .replace(/name="username" value="REPLACE_ME"/, `name="username" value="${a.username ?? '1234567'}"`)
    .replace(/name="password" value="REPLACE_ME"/, `name="password" value="${a.password ?? 'trunk-secret-from-the-portal'}"`)
  writeFileSync(join(conf, 'sip_profiles/external', `${a.provider}.xml`), filled)
}

/** Step 6: the public address instead of STUN, and a directory password that is not 1234. */
export function fillNat (conf: string, a: InstallAnswers): void {
  edit(join(conf, 'vars.xml'), (t) => t
    .replace(/<X-PRE-PROCESS cmd="stun-set" data="external_rtp_ip=[^"]*"\/>/, `<X-PRE-PROCESS cmd="set" data="external_rtp_ip=${a.publicIp}"/>`)
    .replace(/<X-PRE-PROCESS cmd="stun-set" data="external_sip_ip=[^"]*"\/>/, `<X-PRE-PROCESS cmd="set" data="external_sip_ip=${a.publicIp}"/>`)
    .replace(/data="default_password=1234"/, `data="default_password=${a.defaultPassword}"`))
}

/** Every step, in the order of the page. */
export function installPack (conf: string, a: InstallAnswers): void {
  copyPack(conf)
  fillVars(conf, a)
  fillAcl(conf, a)
  applySnippet(conf, 'external')
  applySnippet(conf, 'internal')
  installGateway(conf, a)
  fillNat(conf, a)
}

export const PEOPLEFONE: InstallAnswers = {
  provider: 'peoplefone',
  variant: 'register',
  dids: '43720271025',
  outboundCid: '+43720271025',
  eslPassword: 'a-long-random-secret-0123456789',
  publicIp: '93.184.216.34',
  defaultPassword: 'not-1234-but-long-9876',
}
