import { fileURLToPath } from 'node:url'
import t from 'tap'
import { DID, STT, speech, startRig, placeHeardCall } from '../conversation/helpers.ts'
import { longestSilence, withLoopDelay } from './faults.ts'

/**
 * `call.ask()` is on the dead-air clock too: a recogniser that never answers fills the wait,
 * then fails the question with PROVIDER_TIMEOUT, and the script's failure is the runner's
 * apology, long before the provider's own timeout (5 s here, 20 s in production).
 */
t.test('ask: a recogniser that never answers is a filled wait, then the apology', async (t) => {
  const deadAirMs = 1300
  const rig = await startRig(t, {
    scripts: { asker: fileURLToPath(new URL('../conversation/scripts/ask.ts', import.meta.url)) },
    route: { script: 'asker' },
    agent: { deadlines: { noInputMs: 3000, turnMs: 8000, llmFirstTokenMs: 3000, ttsFirstAudioMs: 3000, deadAirMs }, fillers: { max: 1 } },
  })
  rig.fake.reply(STT, { kind: 'hang' })
  const { value: result, loopLagMs } = await withLoopDelay(async () => await placeHeardCall({ port: rig.port, destination: DID, caller: { audio: [speech(600)] } }).ended)
  const fillers = rig.logs.filter((l) => l.msg === 'dead air: filler')
  t.equal(fillers.length, 1, 'one filler, as configured')
  t.ok(rig.logs.some((l) => l.msg === 'dead air: the caller waited too long'), 'then the budget ran out')
  t.notOk(rig.logs.some((l) => l.msg === 'ask result'), 'the question failed')
  const apologies = Object.values(rig.config.messages.apology)
  t.ok(rig.store.calls[0]?.turns.some((x) => x.role === 'agent' && apologies.includes(x.text)), 'the caller heard the apology')
  const silence = longestSilence(result.heard, 1300, result.endedAtMs)
  t.ok(silence <= deadAirMs + 400 + loopLagMs, `longest silence ${silence} ms, budget ${deadAirMs} ms (+400 ms, +${loopLagMs} ms loop lag)`)
  t.equal(result.hungUpBy, 'server')
  await rig.settled(t)
})
