import t from 'tap'
import { loadSileroModel } from '../../lib/media/vad/silero-model.ts'
import { SileroRunner } from '../../lib/media/vad/silero-runner.ts'
import { SileroVad } from '../../lib/media/vad/silero-vad.ts'
import { Vad } from '../../lib/media/vad/vad.ts'
import { RATE, median, nonSpeechClips, score, speechClips, type Score } from './vad-corpus.ts'

// Both engines on the labelled set (real synthetic voices at 8 kHz with line noise and DTMF,
// and non-speech clips). The numbers are printed for docs/vad.md; the assertions hold what
// each engine is relied on for.

const { clips: speech, espeak } = await speechClips()
const none = nonSpeechClips()
const loaded = await loadSileroModel()

function summary (name: string, sp: Score, ns: Score): string {
  return `${name}: ${sp.clips} speech clips, ${ns.clips} non-speech clips; misses ${sp.misses}, false starts ${sp.falseStarts + ns.falseStarts}, ` +
    `splits ${sp.splits}; start detected ${median(sp.startDelays)} ms after onset, end ${median(sp.endDelays)} ms after the voice stops (medians)`
}

t.test('the labelled set has what it claims', async (t) => {
  t.ok(speech.length >= 24, `${speech.length} speech clips`)
  t.ok(none.length >= 12, `${none.length} non-speech clips`)
  if (!espeak) t.comment('espeak-ng not installed: Italian and German clips left out')
  for (const c of speech) t.ok(c.speech.length === 1 && c.speech[0]!.end > c.speech[0]!.start + 200, c.name)
})

t.test('classic detector on the labelled set', async (t) => {
  const sp = await score(speech, () => new Vad({ rate: RATE }))
  const ns = await score(none, () => new Vad({ rate: RATE }))
  t.comment(summary('classic', sp, ns))
  for (const f of [...sp.failures, ...ns.failures]) t.comment(f)
  // What it is relied on for: tones, DTMF and noise never start speech; sentences are found.
  const tonal = ns.failures.filter((f) => /ringback|busy|DTMF|noise|cough|click|silence/.test(f))
  t.same(tonal, [], 'no false start from tones, DTMF, noise, coughs or clicks')
  const sentences = sp.failures.filter((f) => /"[^"]{20,}"/.test(f))
  t.same(sentences, [], 'every sentence found')
})

t.test('Silero on the labelled set', { skip: loaded.ok ? false : `Silero unavailable here: ${loaded.ok ? '' : loaded.reason}` }, async (t) => {
  if (!loaded.ok) return
  const runner = new SileroRunner({ model: loaded.model, autoTick: false })
  const make = (): SileroVad => new SileroVad(runner.open(RATE), { rate: RATE })
  const tick = async (): Promise<void> => { await runner.tick() }
  const sp = await score(speech, make, tick)
  const ns = await score(none, make, tick)
  t.comment(summary('silero', sp, ns))
  t.same([...sp.failures, ...ns.failures], [], 'no miss and no false start, short answers and backchannels included')
  t.equal(sp.splits, 0, 'no utterance cut in two')
  t.equal(sp.endDelays.length, sp.clips, 'every end found')
  t.equal(runner.slots, 0, 'every detector gave its slot back')
  await runner.close()
})
