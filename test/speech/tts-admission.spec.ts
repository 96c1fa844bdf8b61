import t from 'tap'
import { buildConfig } from '../../lib/config/load.ts'
import { SentenceMemory } from '../../lib/speech/tts-admission.ts'
import { SpeechCache } from '../../lib/speech/tts-cache.ts'
import type { PcmChunk } from '../../lib/speech/types.ts'
import { ScriptedTts, cacheFiles, quiet, settle, soundsDir, voice } from './helpers.ts'

// Which sentences only streamed are written to the cache (lib/speech/tts-admission.ts).

function setup (t: { teardown (fn: () => void): void }, admission?: 'repeated' | 'all') {
  const dir = soundsDir(t)
  const provider = new ScriptedTts(8000)
  const cache = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet(), ...(admission !== undefined ? { admission } : {}) })
  return { dir, provider, cache }
}

/** Streams `text` to the end while the provider's synthesis number `n` (if it is asked) sends half a second. */
async function streamed (cache: SpeechCache, provider: ScriptedTts, text: string, n: number): Promise<PcmChunk[]> {
  const chunks: PcmChunk[] = []
  const done = (async () => { for await (const c of cache.stream(text)) chunks.push(c) })()
  await Promise.race([done, provider.feed(n).then((feed) => { feed.send(voice(4000)); feed.end() })])
  await done
  await cache.idle()
  return chunks
}

t.test('repeated: a sentence streamed once is not written; the second time it is, the third is a hit', async (t) => {
  const { dir, provider, cache } = setup(t, 'repeated')
  t.ok((await streamed(cache, provider, 'Un attimo, controllo.', 0)).length > 0, 'the caller heard it')
  t.same(cacheFiles(dir), [], 'nothing written, no temp file left')
  await streamed(cache, provider, 'Un attimo, controllo.', 1)
  t.equal(provider.feeds.length, 2, 'synthesised again')
  t.equal(cacheFiles(dir).length, 1, 'written the second time')
  const third = await streamed(cache, provider, 'Un attimo, controllo.', 2)
  t.equal(provider.feeds.length, 2, 'the third time comes from the file')
  t.ok(third.length > 0)
})

t.test('repeated: a render is always written, also when it joins a sentence being streamed', async (t) => {
  const { dir, provider, cache } = setup(t, 'repeated')
  const rendered = await (async () => {
    const rendering = cache.render('Benvenuti.')
    const feed = await provider.feed(0)
    feed.send(voice(4000))
    feed.end()
    return await rendering
  })()
  t.equal(rendered.cached, false)
  t.equal(cacheFiles(dir).length, 1, 'files mode plays the file: written the first time')

  const chunks: PcmChunk[] = []
  const streaming = (async () => { for await (const c of cache.stream('Arrivederci.')) chunks.push(c) })()
  const feed = await provider.feed(1)
  feed.send(voice(2000))
  await settle()
  const joined = cache.render('Arrivederci.')
  feed.send(voice(2000))
  feed.end()
  await streaming
  t.equal((await joined).cached, false, 'the render joined the synthesis')
  await cache.idle()
  t.equal(provider.feeds.length, 2, 'one synthesis for both')
  t.equal(cacheFiles(dir).length, 2, 'and it was written')
})

t.test('repeated: a render after a sentence was streamed once and not written synthesises it again', async (t) => {
  const { dir, provider, cache } = setup(t, 'repeated')
  await streamed(cache, provider, 'Grazie.', 0)
  const rendering = cache.render('Grazie.')
  const feed = await provider.feed(1)
  feed.send(voice(4000))
  feed.end()
  const rendered = await rendering
  t.equal(rendered.cached, false)
  t.equal(cacheFiles(dir).length, 1, 'written for FreeSWITCH to play')
})

t.test('all (the class\'s default): every streamed sentence is written', async (t) => {
  const { dir, provider, cache } = setup(t)
  await streamed(cache, provider, 'Una frase nuova.', 0)
  t.equal(cacheFiles(dir).length, 1)
})

t.test('the memory of sentences streamed once is bounded: the oldest is forgotten', async (t) => {
  const memory = new SentenceMemory(3)
  const key = (n: number): string => n.toString(16).padStart(12, '0') + 'a'.repeat(28)
  t.equal(memory.again(key(1)), false)
  t.equal(memory.again(key(1)), true, 'remembered')
  for (const n of [2, 3, 4]) t.equal(memory.again(key(n)), false)
  t.equal(memory.again(key(1)), false, 'forgotten after three others')
  t.equal(memory.again(key(4)), true)
  t.equal(memory.again(`${key(5).slice(0, 12)}ffff`), false)
  t.equal(memory.again(`${key(5).slice(0, 12)}0000`), true, 'keys are told apart by their first 48 bits')
})

t.test('config: speech.tts.cacheAdmission is repeated by default; anything but repeated or all is refused by name', async (t) => {
  t.equal(buildConfig({}, '/x').speech.tts.cacheAdmission, 'repeated')
  t.equal(buildConfig({ speech: { tts: { cacheAdmission: 'all' } } }, '/x').speech.tts.cacheAdmission, 'all')
  t.throws(() => buildConfig({ speech: { tts: { cacheAdmission: 'never' } } }, '/x'), { code: 'CONFIG_INVALID', field: 'speech.tts.cacheAdmission' })
})
