import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PhoneAgentError, isPhoneAgentError } from '../../lib/errors.ts'
import { bytesFromInt16 } from '../../lib/media/pcm.ts'
import { resample } from '../../lib/media/resample.ts'
import { parseWav } from '../../lib/media/wav.ts'
import { streamSentence, type PcmSpeaker } from '../../lib/speech/stream-pcm.ts'
import { SpeechCache } from '../../lib/speech/tts-cache.ts'
import { ScriptedTts, cacheFiles, concat, quiet, sameSamples, settle, soundsDir, voice } from './helpers.ts'

function setup (t: { teardown (fn: () => void): void }, providerRate = 24000) {
  const dir = soundsDir(t)
  const provider = new ScriptedTts(providerRate)
  const cache = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  const speaker: PcmSpeaker = {
    render: async (text, o) => await cache.render(text, o),
    stream: (text, o) => cache.stream(text, o),
  }
  return { dir, provider, cache, speaker }
}

async function drain (it: AsyncIterable<Int16Array>, into: Int16Array[] = []): Promise<Int16Array[]> {
  for await (const s of it) into.push(s)
  return into
}

for (const rate of [8000, 16000]) {
  t.test(`${rate} Hz: the first samples come with the provider's first chunk; all of them equal converting the whole`, async (t) => {
    const { provider, speaker } = setup(t)
    const audio = voice(24000 * 2)
    const it = streamSentence(speaker, 'A sentence of about sixty characters, give or take a few.', { rate })[Symbol.asyncIterator]()
    const first = it.next()
    const feed = await provider.feed(0)
    feed.send(audio.subarray(0, 2400))
    const got = await first
    t.equal(got.done, false)
    t.ok((got.value?.length ?? 0) > 0, 'samples at the stream rate before the provider sent its second chunk')
    const parts = [got.value as Int16Array]
    const rest = drain({ [Symbol.asyncIterator]: () => it }, parts)
    for (let at = 2400; at < audio.length; at += 7000) { feed.send(audio.subarray(at, at + 7000)); await settle(1) }
    feed.end()
    await rest
    t.ok(parts.length > 5, `arrived in pieces (${parts.length})`)
    t.ok(sameSamples(concat(parts), resample(audio, 24000, rate)), 'sample for sample what resampling the whole sentence gives')
  })
}

t.test('a cached sentence: the file, converted when the stream is wideband', async (t) => {
  const { provider, cache, speaker } = setup(t)
  const rendering = cache.render('Already said.')
  const feed = await provider.feed(0)
  feed.send(voice(24000))
  feed.end()
  const file = parseWav(readFileSync((await rendering).path)).samples
  t.ok(sameSamples(concat(await drain(streamSentence(speaker, 'Already said.', { rate: 8000 }))), file), '8 kHz: the file as it is')
  const wide = await drain(streamSentence(speaker, 'Already said.', { rate: 16000 }))
  t.ok(wide.length > 1, 'in pieces')
  t.ok(sameSamples(concat(wide), resample(file, 8000, 16000)), '16 kHz: the file upsampled')
  t.equal(provider.feeds.length, 1, 'no synthesis')
})

t.test('a speaker with only render(): the rendered file, read and converted', async (t) => {
  const { dir, provider, cache } = setup(t)
  const renderOnly: PcmSpeaker = { render: async (text, o) => await cache.render(text, o) }
  const reading = drain(streamSentence(renderOnly, 'Files only.', { rate: 16000 }))
  const feed = await provider.feed(0)
  feed.send(voice(12000))
  feed.end()
  const out = concat(await reading)
  const file = parseWav(readFileSync(join(dir, 'cache', `${cache.key('Files only.')}.wav`))).samples
  t.ok(sameSamples(out, resample(file, 8000, 16000)))
})

t.test('one large chunk (a batch engine) is converted a slice at a time', async (t) => {
  const audio = voice(22050 * 3)
  const speaker: PcmSpeaker = {
    render: async () => { throw new Error('unused') },
    async * stream () { yield { pcm: bytesFromInt16(audio), sampleRate: 22050 } },
  }
  const parts = await drain(streamSentence(speaker, 'Offline voice.', { rate: 8000, sliceMs: 100 }))
  t.ok(parts.length >= 30, `3 s in 100 ms slices (${parts.length} pieces)`)
  t.ok((parts[0]?.length ?? 0) < 1000, 'the first piece is a slice, not the sentence')
  t.ok(sameSamples(concat(parts), resample(audio, 22050, 8000)))
})

t.test('a change of rate mid-sentence converts each run on its own', async (t) => {
  const a = voice(16000)
  const b = voice(24000, 2)
  const speaker: PcmSpeaker = {
    render: async () => { throw new Error('unused') },
    async * stream () {
      yield { pcm: bytesFromInt16(a.subarray(0, 5000)), sampleRate: 16000 }
      yield { pcm: bytesFromInt16(a.subarray(5000)), sampleRate: 16000 }
      yield { pcm: bytesFromInt16(b), sampleRate: 24000 }
      yield { pcm: Buffer.alloc(0), sampleRate: 8000 }
    },
  }
  const out = concat(await drain(streamSentence(speaker, 'Mixed.', { rate: 8000 })))
  t.ok(sameSamples(out, concat([resample(a, 16000, 8000), resample(b, 24000, 8000)])))
})

t.test('abort and break stop the synthesis and leave no file', async (t) => {
  const { dir, provider, speaker } = setup(t)
  const controller = new AbortController()
  const got: Int16Array[] = []
  const reading = drain(streamSentence(speaker, 'Cut off by the caller.', { rate: 8000, signal: controller.signal }), got)
  const feed = await provider.feed(0)
  feed.send(voice(4800))
  await settle()
  t.equal(got.length, 1)
  controller.abort(new PhoneAgentError('CALL_ABORTED', 'barge-in'))
  let error: unknown
  try { await reading } catch (err) { error = err }
  t.ok(isPhoneAgentError(error, 'CALL_ABORTED'), 'the abort reason')
  t.ok(feed.aborted, 'the provider was cancelled')

  const broken = (async () => { for await (const s of streamSentence(speaker, 'Left early.', { rate: 16000 })) { void s; break } })()
  const second = await provider.feed(1)
  second.send(voice(4800))
  await broken
  t.ok(second.aborted, 'breaking out of the loop cancels too')
  await settle(20)
  t.same(cacheFiles(dir), [])

  let refused: unknown
  try { await drain(streamSentence(speaker, 'x', { rate: 8000, signal: AbortSignal.abort(new PhoneAgentError('CALL_HANGUP', 'gone')) })) } catch (err) { refused = err }
  t.ok(isPhoneAgentError(refused, 'CALL_HANGUP'), 'an aborted signal refuses at once')
  t.equal(provider.feeds.length, 2)
})

t.test('a provider failure after some audio: that audio, then the typed error', async (t) => {
  const { provider, speaker } = setup(t)
  const got: Int16Array[] = []
  const reading = drain(streamSentence(speaker, 'Fails halfway.', { rate: 8000 }), got)
  const feed = await provider.feed(0)
  feed.send(voice(4800))
  await settle()
  feed.fail(new PhoneAgentError('PROVIDER_UNAVAILABLE', 'reset'))
  let error: unknown
  try { await reading } catch (err) { error = err }
  t.ok(got.length >= 1, 'the audio before the failure was yielded')
  t.ok(isPhoneAgentError(error, 'PROVIDER_UNAVAILABLE'))
})

t.test('the arrays are the caller\'s: changing them changes neither the file nor another consumer', async (t) => {
  const { dir, provider, cache, speaker } = setup(t)
  const audio = voice(24000)
  const mine: Int16Array[] = []
  const theirs: Int16Array[] = []
  const a = (async () => { for await (const s of streamSentence(speaker, 'Shared audio.', { rate: 8000 })) { mine.push(s.slice()); s.fill(0) } })()
  const b = drain(streamSentence(speaker, 'Shared audio.', { rate: 8000 }), theirs)
  const feed = await provider.feed(0)
  for (let at = 0; at < audio.length; at += 4800) { feed.send(audio.subarray(at, at + 4800)); await settle(1) }
  feed.end()
  await Promise.all([a, b])
  await cache.idle()
  const expected = resample(audio, 24000, 8000)
  t.ok(sameSamples(concat(mine), expected))
  t.ok(sameSamples(concat(theirs), expected), 'the other consumer got intact audio')
  t.ok(sameSamples(parseWav(readFileSync(join(dir, 'cache', `${cache.key('Shared audio.')}.wav`))).samples, expected), 'the file is intact')
})
