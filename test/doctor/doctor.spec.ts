import t, { type Test } from 'tap'
import { readdirSync } from 'node:fs'
import { runDoctor, formatReport, type CheckResult } from '../../lib/doctor/run.ts'
import { parseXml, type InboundState, type XmlElement } from '../../lib/simulator/index.ts'
import { ESL_PASSWORD, harness, installedState, type Harness } from './fixture.ts'

// `phone-agent doctor` against the fake FreeSWITCH's inbound Event Socket, loaded with the pack
// as the docs install it: every check passes; each broken piece turns exactly its check to ✘.

const BASE = installedState()

async function doctor (t: Test, state: InboundState = BASE, over: Parameters<typeof harness>[1] = {}, env?: Record<string, string | undefined>): Promise<{ results: CheckResult[], h: Harness }> {
  const h = await harness(state, over)
  t.teardown(async () => { await h.close() })
  const results = await runDoctor(h.input, { env: env ?? h.env })
  return { results, h }
}

const failed = (results: readonly CheckResult[]): string[] => results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`)
const withGlobals = (extra: Record<string, string | undefined>): InboundState => {
  const globals = new Map(BASE.globals)
  for (const [k, v] of Object.entries(extra)) { if (v === undefined) globals.delete(k); else globals.set(k, v) }
  return { ...BASE, globals }
}

t.test('the pack as installed passes every check, over one connection that is closed afterwards', async (t) => {
  const { results, h } = await doctor(t)
  t.same(failed(results), [])
  const names = results.map((r) => r.name)
  for (const n of ['event socket address', 'event socket password', 'event socket listen-ip', 'module mod_sofia', 'module mod_voicemail', 'FreeSWITCH write timer',
    'DID +43720271025', 'acl trusted-providers', 'gateway peoplefone', 'context phone_agent_outbound', 'external_sip_ip', 'external_rtp_ip',
    'sounds directory', 'fallback voicemail box', 'directory default_password']) t.ok(names.includes(n), n)
  t.equal(h.fake.commands.filter((c) => c.startsWith('auth ')).length, 1)
  t.notOk(h.fake.commands.some((c) => /originate|bgapi|uuid_|system/.test(c)), 'nothing dialled, nothing run')
  t.ok(h.fake.commands.includes('api acl 95.128.80.1 trusted-providers'))
  t.ok(h.fake.commands.includes('api acl 198.51.100.1 trusted-providers'))
  t.ok(h.fake.commands.includes('api sofia status gateway peoplefone'))
  t.ok(h.fake.commands.includes('api xml_locate dialplan context name public'))
  t.same(readdirSync(h.soundsDir), [], 'the sounds probe is removed')
  await h.fake.idle()
  t.equal(h.fake.openConnections, 0, 'the doctor closed its connection')
  const report = formatReport(results)
  t.equal(report.split('\n').filter((l) => l.startsWith('✔')).length, results.length)
  t.match(report, /all \d+ checks passed\n$/)
})

t.test('a missing module', async (t) => {
  const modules = new Set(BASE.modules)
  modules.delete('mod_voicemail')
  const { results } = await doctor(t, { ...BASE, modules })
  t.same(failed(results), ['module mod_voicemail: not loaded'])
  t.match(formatReport(results), /^✘ module mod_voicemail: not loaded — fix: add <load module="mod_voicemail"\/>/m)
})

t.test('a DID the dialplan does not route to our socket', async (t) => {
  const other = await doctor(t, BASE, { input: { dids: ['+43720999999'] } })
  t.match(failed(other.results), [/^DID \+43720999999: no form of it reaches socket 127\.0\.0\.1:8084 \(\+43720999999: extension phone_agent_reject_unknown_did\)/])
  const port = await doctor(t, BASE, { input: { server: { host: '127.0.0.1', port: 9999 } } })
  t.match(failed(port.results), [/^DID \+43720271025: no form of it reaches socket 127\.0\.0\.1:9999 \(\+43720271025: extension phone_agent_did\)/])
  const noContext = await doctor(t, BASE, { doctor: { publicContext: 'nowhere' } })
  t.same(failed(noContext.results), ['context nowhere: not in the loaded dialplan'])
})

t.test('the ACL: a trunk range refused, an outside address admitted, no ranges configured', async (t) => {
  const narrow = { ...BASE, acl: { ...BASE.acl, 'trusted-providers': { default: 'deny' as const, nodes: [{ type: 'allow' as const, cidr: '95.128.80.0/29' }] } } }
  t.match(failed((await doctor(t, narrow)).results), [/^acl trusted-providers: refuses 185\.190\.125\.1, 185\.190\.125\.30 of the trunk range 185\.190\.125\.0\/27/])
  const wide = { ...BASE, acl: { ...BASE.acl, 'trusted-providers': { default: 'deny' as const, nodes: [{ type: 'allow' as const, cidr: '95.128.0.0/16' }, { type: 'allow' as const, cidr: '185.190.125.0/27' }] } } }
  t.match(failed((await doctor(t, wide)).results), [/^acl trusted-providers: admits 95\.128\.80\.8, outside every trunk range/])
  t.match(failed((await doctor(t, BASE, { doctor: { trunkRanges: [] } })).results), [/^acl trusted-providers: no trunk ranges configured/])
})

t.test('gateways: failed registration, unknown gateway, unset name; NOREG passes', async (t) => {
  const gw = (state: string): InboundState => ({ ...BASE, gateways: { peoplefone: { state, status: 'DOWN' } } })
  t.same(failed((await doctor(t, gw('FAIL_WAIT'))).results), ['gateway peoplefone: State FAIL_WAIT, Status DOWN'])
  t.same(failed((await doctor(t, gw('NOREG'))).results), [])
  t.same(failed((await doctor(t, { ...BASE, gateways: {} })).results), ['gateway peoplefone: not defined (Invalid Gateway!)'])
  t.same(failed((await doctor(t, withGlobals({ phone_agent_gateway: undefined }))).results), ['gateway: phone_agent_gateway is not set'])
})

t.test('the outbound context: a catch-all bridge before the blocks is found without dialling', async (t) => {
  const leak: XmlElement = parseXml('<extension name="catch_all"><condition field="destination_number" expression="^(\\+?\\d+)$"><action application="bridge" data="sofia/gateway/peoplefone/$1"/></condition></extension>')[0]!
  const document: XmlElement = {
    ...BASE.document,
    children: BASE.document.children.map((s) => s.attrs.some(([k, v]) => k === 'name' && v === 'dialplan')
      ? { ...s, children: s.children.map((c) => c.attrs.some(([k, v]) => k === 'name' && v === 'phone_agent_outbound') ? { ...c, children: [leak, ...c.children] } : c) }
      : s),
  }
  const { results, h } = await doctor(t, { ...BASE, document })
  t.match(failed(results), [/^context phone_agent_outbound: would dial \+43900123456\d* \(catch_all\)/])
  t.notOk(h.fake.commands.some((c) => /originate/.test(c)))
})

t.test('NAT addresses unset, or a documentation example', async (t) => {
  t.same(failed((await doctor(t, withGlobals({ external_sip_ip: undefined }))).results), ['external_sip_ip: not set (the STUN lookup at start-up failed?)'])
  t.same(failed((await doctor(t, withGlobals({ external_rtp_ip: '203.0.113.10' }))).results), ['external_rtp_ip: 203.0.113.10 is a documentation example, not your address'])
  t.same(failed((await doctor(t, withGlobals({ external_rtp_ip: 'stun:stun.freeswitch.org' }))).results), ['external_rtp_ip: "stun:stun.freeswitch.org" is not an address'])
})

t.test('sounds FreeSWITCH cannot see', async (t) => {
  const { results } = await doctor(t, { ...BASE, fileExists: () => false })
  t.match(failed(results), [/^sounds directory: FreeSWITCH cannot see .*\.doctor-probe-[0-9a-f]+\.wav$/])
})

t.test('event socket: default password, listen-ip beyond loopback, file changed without a restart', async (t) => {
  const cluecon = await doctor(t, { ...BASE, password: 'ClueCon' }, {}, { PHONE_AGENT_ESL_PASSWORD: 'ClueCon' })
  t.ok(failed(cluecon.results).includes('event socket password: FreeSWITCH accepts the well-known default ClueCon'))
  const setParam = (name: string, value: string): XmlElement => {
    const map = (el: XmlElement): XmlElement => el.name === 'param' && el.attrs.some(([k, v]) => k === 'name' && v === name)
      ? { ...el, attrs: [['name', name], ['value', value]] }
      : { ...el, children: el.children.map(map) }
    return map(BASE.document)
  }
  t.same(failed((await doctor(t, { ...BASE, document: setParam('listen-ip', '::') })).results), ['event socket listen-ip: ::: the Event Socket is reachable beyond this machine'])
  t.same(failed((await doctor(t, { ...BASE, document: setParam('password', 'a-new-secret-not-yet-live') })).results), ['event socket restart: event_socket.conf.xml has another password than the running FreeSWITCH'])
})

t.test('fallback: no directory user for the voicemail box; default_password still 1234', async (t) => {
  t.match(failed((await doctor(t, { ...BASE, users: new Set() })).results), [/^fallback voicemail box: no directory user 1000@10\.0\.0\.5$/])
  t.same(failed((await doctor(t, withGlobals({ default_password: '1234' }))).results), ['directory default_password: still vanilla\'s 1234: every directory user has a known password'])
})

t.test('no connection: one ✘ with the fix, for each way it fails', async (t) => {
  const wrong = await doctor(t, BASE, {}, { PHONE_AGENT_ESL_PASSWORD: 'not-the-password' })
  t.same(wrong.results.map((r) => [r.ok, r.name, r.detail]), [[false, 'event socket', 'FreeSWITCH refused the Event Socket password']])
  t.match(wrong.results[0]!.fix, /restart FreeSWITCH/)
  await wrong.h.fake.idle()
  t.equal(wrong.h.fake.openConnections, 0, 'FreeSWITCH ends the connection after -ERR invalid')
  const unset = await doctor(t, BASE, {}, {})
  t.same(unset.results.map((r) => r.detail), ['$PHONE_AGENT_ESL_PASSWORD is not set'])
  const refused = await doctor(t, { ...BASE, refuseClients: true })
  t.match(refused.results.map((r) => r.detail), [/refused .* for this address|closed the Event Socket/])
  const h = await harness(BASE)
  await h.close()
  const nobody = await runDoctor(h.input, { env: h.env })
  t.match(nobody.map((r) => r.detail), [/^cannot connect to 127\.0\.0\.1:\d+: ECONNREFUSED$/])
  t.match(formatReport(nobody), /1 of 1 checks failed\n$/)
})

t.test('the password comes from the environment variable the config names', async (t) => {
  const named = { doctor: { eventSocket: { passwordEnv: 'MY_ESL_SECRET' } } }
  t.same(failed((await doctor(t, BASE, named, { MY_ESL_SECRET: ESL_PASSWORD })).results), [])
  const other = await doctor(t, BASE, named, { PHONE_AGENT_ESL_PASSWORD: ESL_PASSWORD })
  t.same(other.results.map((r) => r.detail), ['$MY_ESL_SECRET is not set'])
  t.equal(other.h.fake.commands.length, 0, 'nothing sent without a password')
})
