import t from 'tap'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { speechLike } from '../media-stream/signals.ts'
import { CALLER, CHAT, DID, STT, reply, startRig, transcript } from './helpers.ts'

// Stream mode: a transfer to an extension ends the unicast stream at once (switch_ivr.c
// switch_ivr_session_transfer resets the session), so what the agent said just before it must
// have reached the caller first: the frame waiting in FreeSWITCH and those the media helper
// still holds would be cut.
t.test('stream mode: the sentence before a transfer is heard to its end', async (t) => {
  const rig = await startRig(t, { media: { mode: 'stream' } })
  rig.fake.reply(STT, transcript('Vorrei parlare con l\'ufficio vendite.'))
  const last = 'La metto subito in contatto con l\'ufficio vendite, resti in linea per favore.'
  rig.fake.reply(CHAT, reply(['Certamente. ', last], { tools: [{ name: 'transfer_call', args: { target: 'sales' } }] }))
  // Speech the VAD takes for a voice, from 0.5 s (stream.spec.ts does the same).
  const words = encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, 0.9, -18, { f0: 140 }) })
  const call = new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [{ atMs: 500, wav: words }] } })
  const result = await call.ended
  t.equal(result.transfer?.to, '2000', 'transferred to the sales extension')
  // The tone speaker: 2 ms a character, 40 ms at least; each sentence's tone is loud throughout.
  const toneMs = (text: string): number => Math.max(40, text.length * 2)
  const replyMs = toneMs('Certamente.') + toneMs(last)
  const greetingEnd = call.ear.stoppedAfterMs(call.ear.firstHeard(0, 200)!.playMs, 200)
  const heardMs = call.ear.heard.filter((f) => f.playMs > greetingEnd + 200 && level(f.samples) >= 200).length * 20
  t.ok(heardMs >= replyMs - 20, `the reply was heard to its end: ${heardMs} ms of its ${replyMs} ms of tone`)
  await rig.settled(t)
})

function level (samples: Int16Array): number {
  let sum = 0
  for (const s of samples) sum += Math.abs(s)
  return sum / samples.length
}
