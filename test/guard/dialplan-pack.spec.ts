import t from 'tap'
import { readFileSync } from 'node:fs'
import { relative, join } from 'node:path'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { CONF_DIR, PACK_DIR, listPackFiles, packVars } from './dialplan-sim.ts'

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' })
const read = (rel: string): string => readFileSync(join(CONF_DIR, rel), 'utf8')

t.test('every XML file in dialplan/ is well-formed', async (t) => {
  const files = listPackFiles().filter((f) => f.endsWith('.xml'))
  t.ok(files.length >= 8, `found ${files.length} files`)
  for (const f of files) {
    const result = XMLValidator.validate(readFileSync(f, 'utf8'))
    t.equal(result, true, relative(PACK_DIR, f))
  }
})

t.test('public context: agent socket with failover and resume, then the fallback', async (t) => {
  const text = read('dialplan/public/00_phone_agent.xml')
  const actions = [...text.matchAll(/<action application="([^"]+)" data="([^"]*)"/g)].map((m) => `${m[1]} ${m[2]}`)
  const did = actions.indexOf('set socket_resume=true')
  t.ok(did >= 0, 'socket_resume=true is set')
  // FreeSWITCH reads one caller packet per tick unless autoflush is on: late packets would
  // delay the caller's audio for the rest of the call (switch_rtp.c rtp_common_read).
  const flush = actions.indexOf('set rtp_autoflush=true')
  t.ok(flush >= 0 && flush < did, 'rtp_autoflush=true is set before the socket')
  t.same(actions.slice(did + 1, did + 4), [
    'socket $${phone_agent_socket_primary} async full',
    'socket $${phone_agent_socket_secondary} async full',
    'transfer phone_agent_fallback XML phone_agent_fallback',
  ])
  const vars = packVars()
  t.equal(vars.phone_agent_socket_primary, '127.0.0.1:8084')
  t.equal(vars.phone_agent_socket_secondary, '127.0.0.1:8085')
  t.notMatch(text, /application="answer"/, 'nothing is answered in the public context')
})

t.test('the replacement public.xml does not hand outside callers to the default context', async (t) => {
  const text = read('dialplan/public.xml')
  t.notMatch(text, /XML default/)
  t.match(text, /<X-PRE-PROCESS cmd="include" data="public\/\*\.xml"\/>/)
})

t.test('outbound context: every bridge sits behind an anchored allowlist, blocks come first', async (t) => {
  const doc = parser.parse(read('dialplan/phone_agent_outbound.xml')) as { include: { context: { extension: Array<{ '@name': string, condition: { '@field'?: string, '@expression'?: string, action?: unknown } }> } } }
  const exts = doc.include.context.extension
  const names = exts.map((e) => e['@name'])
  const firstAllow = names.findIndex((n) => n.startsWith('phone_agent_allow_'))
  const lastBlock = names.map((n) => n.startsWith('phone_agent_block_')).lastIndexOf(true)
  t.ok(lastBlock >= 4 && lastBlock < firstAllow, 'premium blocks before the allowlist')
  t.equal(names.at(-1), 'phone_agent_reject_outbound', 'ends with a reject')
  for (const e of exts) {
    const actions = JSON.stringify(e.condition.action ?? '')
    if (!actions.includes('bridge')) continue
    t.match(e.condition['@expression'] ?? '', /^\^.*\$$/, `${e['@name']} is anchored`)
    t.notMatch(e.condition['@expression'] ?? '', /\.\*|\.\+|\\d\+/, `${e['@name']} is not a catch-all`)
  }
})

t.test('event socket: loopback only, not the default password', async (t) => {
  const doc = parser.parse(read('autoload_configs/event_socket.conf.xml')) as { configuration: { settings: { param: Array<{ '@name': string, '@value': string }> } } }
  const param = (n: string): string | undefined => doc.configuration.settings.param.find((p) => p['@name'] === n)?.['@value']
  t.equal(param('listen-ip'), '127.0.0.1')
  t.equal(param('apply-inbound-acl'), 'loopback.auto')
  const password = param('password')?.replace(/\$\$\{(\w+)\}/, (_w, v: string) => packVars()[v] ?? '')
  t.ok(password !== undefined && password.length >= 16, 'a long password')
  t.not(password, 'ClueCon')
})

t.test('acl: trusted-providers denies by default', async (t) => {
  const doc = parser.parse(read('autoload_configs/acl.conf.xml')) as { configuration: { 'network-lists': { list: Array<{ '@name': string, '@default': string }> } } }
  const list = doc.configuration['network-lists'].list.find((l) => l['@name'] === 'trusted-providers')
  t.equal(list?.['@default'], 'deny')
})

t.test('every placeholder is marked REPLACE_ME', async (t) => {
  const vars = packVars()
  for (const name of ['phone_agent_dids', 'phone_agent_gateway', 'phone_agent_outbound_cid', 'phone_agent_esl_password']) {
    t.match(vars[name], /^REPLACE_ME/, name)
  }
})

// The fail2ban filter is tested against FreeSWITCH's real log format in test/dialplan/fail2ban.spec.ts,
// and the whole pack, installed into a vanilla tree, in test/dialplan/pack-loads.spec.ts.
