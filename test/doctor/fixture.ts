import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseXml, startInboundEsl, type FakeInboundEsl, type InboundState, type XmlElement } from '../../lib/simulator/index.ts'
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
      document,
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
