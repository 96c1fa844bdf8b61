import t from 'tap'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { callerTurnMs } from '../conversation/helpers.ts'
import { CALLER, DID, startRealtimeRig, voice } from './rig.ts'

/**
 * A vendor with no turn detection of its own (Gemini Live) may answer inside our VAD's end
 * silence, before the end of the caller's speech is confirmed. When that answer calls a tool that
 * takes the call over (a transfer), no frame reaches our VAD again and the end is never
 * confirmed: the turn's latency must be measured when the answer starts, from the speech so far.
 * Our end silence here (1.2 s) is well past the fake's (400 ms), so the vendor always wins.
 */
t.test('an answer inside our end silence that transfers the call still has its latency on the record', async (t) => {
  const rig = await startRealtimeRig(t, 'gemini', { vad: { endSilenceMs: 1200 } })
  rig.fake.caller('Mi passi le vendite.').reply({ text: 'La passo alle vendite.', audioMs: 600, tools: [{ name: 'transfer_call', args: { target: 'sales' } }] })
  const call = new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, callerNumber: CALLER })
  const line = voice(0, 900)
  call.say(await callerTurnMs(call) + 300, line.wav)
  const result = await call.ended
  t.equal(result.transfer?.to, '2000', 'the answer transferred the call')
  const captured = rig.store.calls[0]!
  t.equal(captured.latency.length, 1, 'one turn, measured')
  const l = captured.latency[0]!
  t.ok(l.speechEndAt! <= l.ttsAudioAt! && l.ttsAudioAt! <= l.firstFrameAt!, 'caller stop -> first vendor audio -> first frame')
  const heard = captured.turns.find((x) => x.role === 'caller')
  t.ok(heard?.at !== undefined && l.speechEndAt! <= heard.at, 'the speech ended before the vendor said what it heard')
})
