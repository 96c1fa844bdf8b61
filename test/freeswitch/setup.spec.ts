import t from 'tap'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import type { HandshakeFailed } from '../../lib/freeswitch/handshake.ts'
import { startTestAgent } from '../helpers/agent.ts'

/**
 * What our server says on the wire between `connect` and the call's first verb, and what it
 * refuses to say: the filters go out only with a UUID we checked.
 */

const DID = '+390212345678'
const verbs = fileURLToPath(new URL('../fixtures/scripts/verbs.ts', import.meta.url))

/** The command line (first line) of each packet FreeSWITCH received. */
const commandLines = (commands: readonly string[]): string[] => commands.map((c) => c.split('\n')[0] ?? '')

t.test('setup: the filters carry the checked UUID, before linger and the event subscription', async (t) => {
  const { port } = await startTestAgent(t, { routes: { [DID]: { script: 'take-message' } } })
  const fs = new FakeFreeSwitch()
  const uuid = '6f0c8e2a-1b2c-4d3e-8f90-a1b2c3d4e5f6'
  const res = await fs.placeCall({ port, destination: DID, uuid, caller: { hangupAtMs: 300 } }).ended
  const lines = commandLines(res.commands)
  t.same(lines.slice(0, 5), [
    'connect',
    `filter Unique-ID ${uuid}`,
    `filter Job-Owner-UUID ${uuid}`,
    'linger',
    'event json CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE DTMF PLAYBACK_START PLAYBACK_STOP RECORD_START RECORD_STOP BACKGROUND_JOB CHANNEL_BRIDGE CHANNEL_UNBRIDGE',
  ])
  t.equal(res.hungUpBy, 'caller')
  t.ok(res.events.find((e) => e.name === 'CHANNEL_HANGUP')?.delivered, 'the channel\'s events pass the filter')
  t.ok(res.exitReceived)
})

for (const [name, uuid] of [
  ['a line break and a command', '6f0c8e2a-1b2c-4d3e-8f90-a1b2c3d4e5f6\r\n\r\napi originate sofia/gateway/x/00447700900123 &park'],
  ['a bare LF', '6f0c8e2a-1b2c-4d3e-8f90-a1b2c3d4e5f6\nsendmsg'],
  ['a space and a second value', '6f0c8e2a-1b2c-4d3e-8f90-a1b2c3d4e5f6 +/.*/'],
  ['not a UUID at all', 'all'],
] as const) {
  t.test(`a Unique-ID with ${name}: no filter on the wire, the call refused`, async (t) => {
    const { port, agent, logs } = await startTestAgent(t, { routes: { [DID]: { script: 'take-message' } } })
    const failed = new Promise<HandshakeFailed>((resolve) => { agent.server.onHandshakeFailed(resolve) })
    const fs = new FakeFreeSwitch()
    const res = await fs.placeCall({ port, destination: DID, uuid }).ended
    const lines = commandLines(res.commands)
    t.same(lines.filter((l) => !l.startsWith('sendmsg') && l !== 'exit'), ['connect'], 'nothing but the refusal after connect')
    t.notOk(res.commands.some((c) => /filter|api |originate/i.test(c)), 'no filter, api or originate anywhere in what we sent')
    t.equal(res.hangupCause, 'NORMAL_TEMPORARY_FAILURE')
    t.equal(res.hungUpBy, 'server')
    t.same(await failed, { reason: 'invalid_reply' })
    t.match(logs.find((r) => r.msg === 'connect reply unusable, refusing call'), { err: { code: 'ESL_PROTOCOL' } })
  })
}

t.test('stopAccepting resolves at once while a call goes on (shutdown can reach its deadline)', async (t) => {
  const { port, agent } = await startTestAgent(t, {
    scripts: { verbs: { module: verbs } },
    routes: { [DID]: { script: 'verbs', options: { steps: [{ verb: 'answer' }, { verb: 'digits', max: 4, timeoutMs: 60_000 }] } } },
  })
  const fs = new FakeFreeSwitch()
  const call = fs.placeCall({ port, destination: DID, caller: { hangupAtMs: 30_000 } })
  while (!call.answered) await sleep(20)
  await agent.server.stopAccepting()
  t.equal(agent.server.activeCalls(), 1, 'the call is still running')
  t.notOk(call.hungUp)
  call.hangup()
  const res = await call.ended
  t.equal(res.hungUpBy, 'caller')
  await agent.server.drained()
  t.equal(agent.server.activeCalls(), 0)
})
