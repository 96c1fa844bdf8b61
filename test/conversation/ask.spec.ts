import { fileURLToPath } from 'node:url'
import t from 'tap'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { DID, STT, speech, startRig, transcript } from './helpers.ts'

t.test('ask: a transcript with timing, a reprompt after silence, and no-match for words nobody could make out', async (t) => {
  const rig = await startRig(t, { scripts: { asker: fileURLToPath(new URL('./scripts/ask.ts', import.meta.url)) }, route: { script: 'asker' } })
  rig.fake.reply(STT, transcript('Mario'), transcript('Rossi'), transcript(''))
  const fs = new FakeFreeSwitch()
  const began = Date.now()
  const result = await fs.placeCall({ port: rig.port, destination: DID, caller: { audio: [speech(600), speech(7000), speech(11_000)] } }).ended
  const answers = rig.logs.filter((l) => l.msg === 'ask result').map((l) => l.result as Record<string, unknown>)
  t.equal(answers.length, 3)
  t.match(answers[0], { kind: 'speech', text: 'Mario' })
  const first = answers[0] as { startedAt: number, endedAt: number }
  t.ok(first.startedAt >= began && first.endedAt > first.startedAt, 'speech start and end times')
  // Wall-clock times, so an order rather than a length: the 0.7 s utterance at 0.6 s ended
  // before the caller's next one began (7 s into the call).
  t.ok(first.endedAt < began + 7000, `the utterance ended before the next one began (it lasted ${first.endedAt - first.startedAt} ms)`)
  t.match(answers[1], { kind: 'speech', text: 'Rossi' })
  t.same(answers[2], { kind: 'no-match' })
  const texts = rig.speaker.requests.map((r) => r.text)
  t.ok(texts.includes('Non ho sentito, il cognome?'), 'the reprompt was spoken after the silence')
  const sttRequests = rig.fake.requests.filter((r) => r.path === STT)
  t.equal(sttRequests.length, 3, 'silence never went to STT')
  t.equal(sttRequests[0]?.fields?.get('prompt')?.value.toString(), 'Rossi', 'hints reach the recogniser')
  t.same(rig.store.calls[0]?.turns.filter((x) => x.role === 'caller').map((x) => x.text), ['Mario', 'Rossi'])
  t.equal(result.hungUpBy, 'server')
  await rig.settled(t)
})
