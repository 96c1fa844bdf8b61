import t from 'tap'
import { connect } from 'node:net'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { runApi, startInboundEsl } from '../../lib/simulator/index.ts'
import { doctorCommand } from '../../lib/cli/doctor.ts'
import { ESL_PASSWORD, installedState, switchConf, withConfig } from './fixture.ts'

// The fake's inbound side on the wire, byte for byte as mod_event_socket.c writes it, and the
// api outputs in the format of the FreeSWITCH functions that produce them.

const state = installedState()

/** Send raw commands, collect everything until the server closes or `until` shows up. */
async function converse (port: number, commands: readonly string[], until: RegExp): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  let got = ''
  return await new Promise<string>((resolve, reject) => {
    socket.on('error', reject)
    socket.on('data', (d) => {
      got += d.toString()
      if (got === 'Content-Type: auth/request\n\n') for (const c of commands) socket.write(`${c}\n\n`)
      if (until.test(got)) { socket.destroy(); resolve(got) }
    })
    socket.on('close', () => { resolve(got) })
  })
}

t.test('auth/request, a wrong password: -ERR invalid and the disconnect notice', async (t) => {
  const fake = await startInboundEsl(state)
  t.teardown(async () => { await fake.close() })
  const got = await converse(fake.port, ['auth nope'], /See you at ClueCon/)
  t.equal(got, 'Content-Type: auth/request\n\nContent-Type: command/reply\nReply-Text: -ERR invalid\n\n' +
    'Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n')
})

t.test('auth, then api answered as api/response with Content-Length', async (t) => {
  const fake = await startInboundEsl(state)
  t.teardown(async () => { await fake.close() })
  const got = await converse(fake.port, [`auth ${ESL_PASSWORD}`, 'api module_exists mod_sofia'], /\n\ntrue$/)
  t.equal(got, 'Content-Type: auth/request\n\nContent-Type: command/reply\nReply-Text: +OK accepted\n\nContent-Type: api/response\nContent-Length: 4\n\ntrue')
})

t.test('a refused address gets text/rude-rejection', async (t) => {
  const fake = await startInboundEsl({ ...state, refuseClients: true })
  t.teardown(async () => { await fake.close() })
  t.equal(await converse(fake.port, [], /go away/), 'Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n')
})

t.test('api outputs in FreeSWITCH\'s formats', async (t) => {
  t.equal(runApi(state, 'global_getvar phone_agent_nowhere'), '-ERR no reply\n', 'empty output: api_exec says -ERR no reply')
  t.equal(runApi(state, 'global_getvar phone_agent_gateway'), 'peoplefone')
  t.equal(runApi(state, 'acl 95.128.80.3 trusted-providers'), 'true')
  t.equal(runApi(state, 'acl 95.128.80.8 trusted-providers'), 'false')
  t.equal(runApi(state, 'acl 95.128.80.3 no-such-list'), 'false')
  t.equal(runApi(state, 'module_exists mod_nothing'), 'false')
  t.equal(runApi(state, 'xml_locate dialplan context name nowhere'), "can't find anything\n")
  t.equal(runApi(state, 'xml_locate dialplan context'), '-ERR bad args\n')
  t.equal(runApi(state, 'sofia status gateway nowhere'), 'Invalid Gateway!\n')
  t.equal(runApi(state, 'originate sofia/gateway/peoplefone/+881 &park'), '-ERR originate Command not found!\n', 'the fake cannot dial')
  const gw = runApi(state, 'sofia status gateway peoplefone')
  t.match(gw, /^={97}\nName    \tpeoplefone\n/)
  t.match(gw, /\nState   \tREGED\nStatus  \tUP\n/)
  const ctx = runApi(state, 'xml_locate dialplan context name phone_agent_outbound')
  t.match(ctx, /^<context name="phone_agent_outbound">\n  <extension name="phone_agent_block_it_premium">\n    <condition field="destination_number" expression="/)
  t.match(ctx, /<action application="bridge" data="sofia\/gateway\/peoplefone\/\+\$1"\/>\n/)
})

t.test('xml_locate of a config file: the <configuration> element the core reads at start (switch_xml_open_cfg)', async (t) => {
  const conf = runApi(state, 'xml_locate configuration configuration name switch.conf')
  t.match(conf, /^<configuration name="switch\.conf" description="Core Configuration">\n  <cli-keybindings>\n    <key name="1" value="help"\/>\n/)
  t.match(conf, /\n  <default-ptimes\/>\n  <settings>\n    <param name="colorize-console" value="true"\/>\n/)
  t.notMatch(conf, /timer|monoton/, 'vanilla sets no timer')
  t.equal(runApi(state, 'xml_locate configuration configuration name post_load_switch.conf'), "can't find anything\n")
})

t.test('phone-agent doctor: the command prints the report and exits 1 on a ✘, 0 when all pass', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'doctor-cli-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const run = async (s: typeof state): Promise<{ code: number, text: string }> => {
    const fake = await startInboundEsl(s)
    try {
      const config = join(dir, 'phone-agent.yaml')
      writeFileSync(config, [
        'numbers: { defaultCountry: AT }',
        "routes: { '+43720271025': { script: take-message } }",
        `media: { soundsDir: ${dir} }`,
        'guard: { callers: { allowPrefixes: ["+43"] } }',
        `doctor: { eventSocket: { port: ${fake.port} }, trunkRanges: [95.128.80.0/29, 185.190.125.0/27] }`,
      ].join('\n'))
      const out = new PassThrough()
      let text = ''
      out.on('data', (d) => { text += String(d) })
      const code = await doctorCommand.run(['--config', config], { out, err: out, env: { PHONE_AGENT_ESL_PASSWORD: ESL_PASSWORD } })
      return { code, text }
    } finally {
      await fake.close()
    }
  }
  const good = await run(state)
  t.equal(good.code, 0, good.text)
  t.match(good.text, /^✔ event socket address: 127\.0\.0\.1 \(loopback\)$/m)
  const bad = await run({ ...state, gateways: { peoplefone: { state: 'FAILED', status: 'DOWN' } } })
  t.equal(bad.code, 1)
  t.match(bad.text, /^✘ gateway peoplefone: State FAILED, Status DOWN — fix: check username, password/m)
  t.match(bad.text, /1 of \d+ checks failed\n$/)
  // Stream mode (the default media.mode): the switch's write timer is checked against the config.
  t.match(good.text, /^✔ FreeSWITCH write timer: timerfd /m)
  const sleeping = await run(withConfig(state, 'switch.conf', switchConf([['enable-softtimer-timerfd', 'false']])))
  t.equal(sleeping.code, 1)
  t.match(sleeping.text, /^✘ FreeSWITCH write timer: sleep .* — fix: remove enable-softtimer-timerfd/m)
})
