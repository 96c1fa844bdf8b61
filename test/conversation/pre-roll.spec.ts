import t from 'tap'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { encodeWav, parseWav } from '../../lib/media/wav.ts'
import { speechLike } from '../media-stream/signals.ts'
import { CALLER, CHAT, DID, STT, callerTurnMs, reply, startRig, transcript } from './helpers.ts'

/**
 * The VAD confirms speech a few hundred milliseconds after its onset; the recogniser must still
 * get the utterance from the onset (plus the pre-roll before it), or the first syllable is lost.
 */
t.test('stream mode: the recogniser gets the utterance from before its onset', async (t) => {
  const rig = await startRig(t, { media: { mode: 'stream', stream: { preRollMs: 200 } } })
  rig.fake.reply(STT, transcript('Buongiorno.'))
  rig.fake.reply(CHAT, reply('Arrivederci.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  const words = encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, 0.9, -18) })
  const sim = new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, callerNumber: CALLER })
  // 600 ms into the stream: the pre-roll then has quiet to take before the words.
  sim.say(await callerTurnMs(sim) + 600, words)
  await sim.ended
  const upload = rig.fake.requests.find((r) => r.path === STT)?.fields?.get('file')
  t.ok(upload !== undefined, 'the utterance was sent to the recogniser')
  const wav = parseWav(Buffer.from(upload!.value))
  const rate = wav.sampleRate
  const peak = (fromMs: number, toMs: number): number => {
    let p = 0
    for (let i = Math.floor(fromMs * rate / 1000); i < Math.min(wav.samples.length, toMs * rate / 1000); i++) p = Math.max(p, Math.abs(wav.samples[i] ?? 0))
    return p
  }
  t.ok(peak(0, 100) < 200, `it starts in the quiet before the words (peak ${peak(0, 100)})`)
  const onsetMs = Array.from({ length: 100 }, (_, i) => i * 10).find((ms) => peak(ms, ms + 10) > 1000) ?? -1
  t.ok(onsetMs >= 150 && onsetMs <= 260, `the words start ${onsetMs} ms in: the 200 ms pre-roll, then the onset`)
  await rig.settled(t)
})
