import t from 'tap'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import type { FakeFault, FakeRealtimeOptions } from '../fakes/realtime-core.ts'
import { CALLER, DID, startRealtimeRig, voice, type Vendor } from './rig.ts'
import { blockedPair } from '../helpers/blocked-ports.ts'

const APOLOGY = 'Mi scusi, ho un problema tecnico. La metto in contatto con un collega.'

interface Failure {
  readonly name: string
  readonly fake?: FakeRealtimeOptions
  /** What the vendor does when the caller has spoken. */
  readonly step?: FakeFault
  readonly code: string
}

const FAILURES: Failure[] = [
  { name: 'the socket is refused (HTTP 503)', fake: { connect: 503 }, code: 'PROVIDER_UNAVAILABLE' },
  { name: 'the key is refused (HTTP 401)', fake: { connect: 401 }, code: 'PROVIDER_AUTH' },
  { name: 'the set-up is never acknowledged', fake: { connect: 'silent' }, code: 'PROVIDER_TIMEOUT' },
  { name: 'the vendor closes the socket mid-call', step: 'close', code: 'PROVIDER_UNAVAILABLE' },
  { name: 'the vendor sends garbage', step: 'garbage', code: 'PROVIDER_BAD_RESPONSE' },
  { name: 'the vendor stalls (no audio within the dead-air budget)', step: 'stall', code: 'PROVIDER_TIMEOUT' },
]

for (const vendor of ['openai', 'gemini'] as const satisfies readonly Vendor[]) {
  for (const f of FAILURES) {
    t.test(`${vendor}: ${f.name} -> the apology, then the human`, async (t) => {
      const rig = await startRealtimeRig(t, vendor, { ...(f.fake ? { fake: f.fake } : {}) })
      if (f.step !== undefined) rig.fake.caller('Pronto?').reply(f.step)
      const call = new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(500, 700)] } })
      const result = await call.ended
      t.equal(result.transfer?.to, '1000', 'handed to the operator (agent.transfers.human)')
      const captured = rig.store.calls[0]!
      const agentTurns = captured.turns.filter((x) => x.role === 'agent').map((x) => x.text)
      t.equal(agentTurns[0], 'Buongiorno, come posso aiutarla?', 'the greeting played while the session connected')
      t.equal(agentTurns.at(-1), APOLOGY, 'the apology before the hand-off')
      t.same(captured.errors.map((e) => e.code), [f.code], `recorded as ${f.code}`)
      t.equal(captured.errors[0]?.provider, vendor)
      t.ok(call.ear.firstHeard(0, 200) !== undefined, 'the caller heard us (never silence)')
      t.equal(captured.end?.outcome, 'transferred')
      t.equal(rig.fake.openConnections, 0, 'no vendor socket left open')
    })
  }
}

t.test('openai: a stream FreeSWITCH never starts, no greeting -> the exchange ends with MEDIA_STREAM_FAILED and the human', async (t) => {
  const blocked = await blockedPair()
  t.teardown(() => { for (const s of blocked.sockets) s.close() })
  const rig = await startRealtimeRig(t, 'openai', { stream: { freeswitchPorts: { min: blocked.min, max: blocked.max } }, routeOptions: { greeting: false } })
  const started = Date.now()
  const result = await new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(500, 700)], hangupAtMs: 60_000 } }).ended
  t.ok(Date.now() - started < 15_000, `over when the stream was given up (${Date.now() - started} ms), not at the call's maximum`)
  t.equal(result.transfer?.to, '1000', 'handed to the operator')
  const captured = rig.store.calls[0]!
  t.same(captured.errors.map((e) => e.code), ['MEDIA_STREAM_FAILED'])
  t.equal(rig.fake.openConnections, 0, 'no vendor socket left open')
})
