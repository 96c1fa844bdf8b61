import t, { type Test } from 'tap'
import type { Speaker } from '../../lib/call/context.ts'
import { abortReason } from '../../lib/errors.ts'
import { type SimulatedCall } from '../../lib/simulator/index.ts'
import { leaksSince, resources } from '../helpers/leaks.ts'
import { CHAT, DID, STT, reply, speech, startRig, transcript, until, type RigOptions, placeHeardCall } from './helpers.ts'

const SLOW = 'Una risposta che la sintesi vocale non finirà mai di preparare.'

/** A speaker that never finishes `SLOW` until the caller's signal aborts it. */
function slowTts (started: () => void): RigOptions['wrapSpeaker'] {
  return (s: Speaker) => ({
    render: async (text, o) => {
      if (text !== SLOW) return await s.render(text, o)
      started()
      return await new Promise((_resolve, reject) => {
        const signal = o.signal
        if (signal === undefined) return
        signal.addEventListener('abort', () => { reject(abortReason(signal)) }, { once: true })
      })
    },
  })
}

interface Phase {
  readonly name: string
  readonly options?: RigOptions
  readonly script: (rig: Awaited<ReturnType<typeof startRig>>) => void
  /** Resolves when the call is in the phase; the caller then hangs up. */
  readonly reached: (rig: Awaited<ReturnType<typeof startRig>>, sim: SimulatedCall) => Promise<void>
  readonly check?: (t: Test, rig: Awaited<ReturnType<typeof startRig>>) => void
}

let ttsStarted = false
const phases: Phase[] = [
  {
    name: 'listening',
    script: () => {},
    reached: async (_rig, sim) => { await until(() => sim.result.apps.some((a) => a.name === 'record')) },
    check: (t, rig) => { t.equal(rig.fake.requests.length, 0, 'nothing was sent to STT') },
  },
  {
    name: 'STT',
    script: (rig) => { rig.fake.reply(STT, { kind: 'hang' }) },
    reached: async (rig) => { await until(() => rig.fake.requests.some((r) => r.path === STT)) },
    check: (t, rig) => { t.equal(rig.fake.clientAborts, 1, 'the STT request was aborted') },
  },
  {
    name: 'LLM streaming',
    script: (rig) => {
      rig.fake.reply(STT, transcript('Pronto?'))
      rig.fake.reply(CHAT, reply(['Allora', ' vediamo.', ' Un momento.'], { delayMs: 2000 }))
    },
    reached: async (rig) => { await until(() => rig.fake.requests.some((r) => r.path === CHAT)) },
    check: (t, rig) => { t.equal(rig.fake.clientAborts, 1, 'the streaming LLM request was aborted') },
  },
  {
    name: 'TTS',
    options: { wrapSpeaker: slowTts(() => { ttsStarted = true }) },
    script: (rig) => {
      rig.fake.reply(STT, transcript('Pronto?'))
      rig.fake.reply(CHAT, reply(SLOW))
    },
    reached: async () => { await until(() => ttsStarted) },
  },
  {
    name: 'playback',
    script: (rig) => {
      rig.fake.reply(STT, transcript('Pronto?'))
      rig.fake.reply(CHAT, reply('Questa frase dura abbastanza a lungo da essere interrotta dal chiamante che riattacca nel mezzo.'))
    },
    reached: async (_rig, sim) => { await until(() => sim.result.played.length >= 2) },
    check: (t) => { t.pass('hung up while the reply played') },
  },
]

for (const phase of phases) {
  t.test(`the caller hangs up during ${phase.name}: the call ends cleanly`, async (t) => {
    ttsStarted = false
    const rig = await startRig(t, phase.options)
    const baseline = resources()
    phase.script(rig)
    const sim = placeHeardCall({ port: rig.port, destination: DID, caller: { audio: [speech(400)] } })
    await phase.reached(rig, sim)
    sim.hangup()
    const result = await sim.ended
    t.equal(result.hungUpBy, 'caller')
    await until(() => rig.store.calls[0]?.end !== undefined)
    const call = rig.store.calls[0]!
    t.equal(call.end?.outcome, 'caller_hung_up')
    t.same(call.errors, [], 'a hangup is not an error')
    t.notOk(rig.logs.some((l) => l.level >= 50), 'nothing logged as an error')
    await rig.settled(t)
    phase.check?.(t, rig)
    t.same(await leaksSince(baseline, ['Timeout']), {}, 'no timer left behind')
    await until(() => rig.agent.server.activeCalls() === 0)
    t.equal(rig.agent.server.activeCalls(), 0, "the server holds no call")
  })
}
