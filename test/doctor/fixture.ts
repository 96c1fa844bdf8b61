import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseXml, startInboundEsl, type FakeInboundEsl, type InboundState, type XmlElement } from '../../lib/simulator/index.ts'
import { withConfiguration } from '../../lib/simulator/inbound/server.ts'
import { doctorSchema } from '../../lib/doctor/config.ts'
import type { DoctorInput } from '../../lib/doctor/run.ts'
import { PEOPLEFONE, SKELETON, copyTree, installPack } from '../dialplan/install.ts'
import { aclNodes, checkLoaded } from '../dialplan/pack-check.ts'

/**
 * A fake FreeSWITCH that has loaded the pack as docs/freeswitch-pack.md installs it (peoplefone,
 * registration): its XML registry, global variables and ACL lists are what the pre-processor
 * model makes of the stand-in vanilla tree plus the pack.
 */

export const ESL_PASSWORD = PEOPLEFONE.eslPassword

/**
 * switch.conf as vanilla's autoload_configs/switch.conf.xml (signalwire/freeswitch cc93a683) has
 * it, its active settings only: every timer setting commented out, so the switch writes on
 * timerfd (see lib/doctor/checks-timer.ts). `extra` params are added at the end, in order.
 * The stand-in tree of test/dialplan has no switch.conf, so it is added here.
 */
export function switchConf (extra: ReadonlyArray<readonly [string, string]> = []): XmlElement {
  const params = [['colorize-console', 'true'], ['dialplan-timestamps', 'false'], ['max-db-handles', '50'], ['db-handle-timeout', '10'],
    ['max-sessions', '1000'], ['sessions-per-second', '30'], ['loglevel', 'debug'], ['mailer-app', 'sendmail'], ['mailer-app-args', '-t'],
    ['dump-cores', 'yes'], ...extra]
  // Built, not parsed: parseXml trims values, and a value's blanks matter to switch_true.
  const settings: XmlElement = { name: 'settings', attrs: [], children: params.map(([n, v]) => ({ name: 'param', attrs: [['name', n], ['value', v]], children: [] })) }
  const conf = parseXml('<configuration name="switch.conf" description="Core Configuration"><cli-keybindings><key name="1" value="help"/><key name="2" value="status"/></cli-keybindings><default-ptimes></default-ptimes></configuration>')[0]!
  return { ...conf, children: [...conf.children, settings] }
}

/** The state with switch.conf (or another config file) replaced; undefined removes it. */
export function withConfig (state: InboundState, name: string, conf: XmlElement | undefined): InboundState {
  return { ...state, document: withConfiguration(state.document, name, conf) }
}

export function installedState (): InboundState {
  const { dir, remove } = copyTree(SKELETON)
  try {
    installPack(dir, PEOPLEFONE)
    const { loaded } = checkLoaded(dir)
    const document = parseXml(loaded.result.text).find((e) => e.name === 'document') as XmlElement
    const nodes = aclNodes(loaded, 'trusted-providers').map((n) => ({ type: n['@type'] as 'allow' | 'deny', cidr: String(n['@cidr']) }))
    const domain = loaded.result.vars.get('domain')!
    return {
      password: ESL_PASSWORD,
      modules: new Set(['mod_sofia', 'mod_event_socket', 'mod_dialplan_xml', 'mod_dptools', 'mod_commands', 'mod_sndfile', 'mod_voicemail', 'mod_loopback']),
      globals: new Map(loaded.result.vars),
      acl: { 'trusted-providers': { default: 'deny', nodes }, 'loopback.auto': { default: 'deny', nodes: [{ type: 'allow', cidr: '127.0.0.0/8' }] } },
      gateways: { peoplefone: { state: 'REGED', status: 'UP', username: '1234567', realm: 'sips.peoplefone.at', proxy: 'sips.peoplefone.at', context: 'public', extension: 'auto_to_user' } },
      document: withConfiguration(document, 'switch.conf', switchConf()),
      users: new Set([`1000@${domain}`]),
    }
  } finally {
    remove()
  }
}

export interface Harness {
  readonly fake: FakeInboundEsl
  readonly input: DoctorInput
  readonly env: Record<string, string>
  readonly soundsDir: string
  close (): Promise<void>
}

/** The fake on a free loopback port and a doctor input pointing at it; `over` adjusts either. */
export async function harness (state: InboundState, over: { input?: Partial<DoctorInput>, doctor?: Record<string, unknown> } = {}): Promise<Harness> {
  const fake = await startInboundEsl(state)
  const soundsDir = mkdtempSync(join(tmpdir(), 'doctor-sounds-'))
  const { eventSocket, ...rest } = (over.doctor ?? {}) as { eventSocket?: Record<string, unknown> }
  const doctor = doctorSchema.parse({
    eventSocket: { port: fake.port, timeoutMs: 2000, ...eventSocket },
    trunkRanges: ['95.128.80.0/29', '185.190.125.0/27'],
    ...rest,
  })
  const input: DoctorInput = {
    doctor,
    server: { host: '127.0.0.1', port: 8084 },
    dids: ['+43720271025'],
    defaultCountry: 'AT',
    callerPrefix: '+43',
    soundsDir,
    freeswitchSoundsDir: soundsDir,
    // As lib/cli/doctor.ts passes it for the default media.mode stream.
    writeTimer: 'timerfd',
    ...over.input,
  }
  return {
    fake,
    input,
    env: { PHONE_AGENT_ESL_PASSWORD: ESL_PASSWORD },
    soundsDir,
    async close () {
      await fake.close()
      rmSync(soundsDir, { recursive: true, force: true })
    },
  }
}
