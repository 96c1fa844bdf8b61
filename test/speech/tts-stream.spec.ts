import t from 'tap'
import { pbkdf2 } from 'node:crypto'
import { readFileSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { PhoneAgentError, isPhoneAgentError } from '../../lib/errors.ts'
import { int16FromBytes } from '../../lib/media/pcm.ts'
import { resample } from '../../lib/media/resample.ts'
import { parseWav } from '../../lib/media/wav.ts'
import { SpeechCache } from '../../lib/speech/tts-cache.ts'
import type { PcmChunk } from '../../lib/speech/types.ts'
import { ScriptedTts, cacheFiles, concat, quiet, sameSamples, settle, soundsDir, voice } from './helpers.ts'

function setup (t: { teardown (fn: () => void): void }, rate = 24000) {
  const dir = soundsDir(t)
  const provider = new ScriptedTts(rate)
  const cache = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  return { dir, provider, cache }
}

const samplesOf = (chunks: readonly PcmChunk[]): Int16Array => concat(chunks.map((c) => int16FromBytes(c.pcm)))

t.test('a miss streams each chunk as the provider sends it, then the file is written', async (t) => {
  const { dir, provider, cache } = setup(t)
  const it = cache.stream('Hello there, how can I help?')[Symbol.asyncIterator]()
  const first = it.next()
  const feed = await provider.feed(0)
  const audio = voice(24000 * 3 / 2)
  feed.send(audio.subarray(0, 4800))
  const got = await first
  t.equal(got.done, false)
  t.equal(got.value?.sampleRate, 24000, 'at the provider\'s rate')
  t.ok(sameSamples(int16FromBytes(got.value?.pcm ?? Buffer.alloc(0)), audio.subarray(0, 4800)), 'the first chunk, before the provider sent the second')
  t.same(cacheFiles(dir), [], 'nothing in the cache while the synthesis runs')

  const seen = [got.value as PcmChunk]
  for (const at of [4800, 20000]) feed.send(audio.subarray(at, at === 4800 ? 20000 : audio.length))
  feed.end()
  for (let r = await it.next(); r.done !== true; r = await it.next()) seen.push(r.value)
  t.ok(sameSamples(samplesOf(seen), audio), 'every sample, in order')
  await cache.idle()

  const files = cacheFiles(dir)
  t.equal(files.length, 1, 'one file, no temp file')
  const wav = parseWav(readFileSync(join(dir, 'cache', files[0] ?? '')))
  t.equal(wav.sampleRate, 8000)
  t.ok(sameSamples(wav.samples, resample(audio, 24000, 8000)), 'the file holds what render() would have written')
  const again = await cache.render('Hello there, how can I help?')
  t.equal(again.cached, true, 'render() finds it')
  t.equal(provider.feeds.length, 1)
})

t.test('a hit streams the file at the cache rate in 200 ms pieces, with no synthesis', async (t) => {
  const { dir, provider, cache } = setup(t)
  const rendering = cache.render('Cached words.')
  const feed = await provider.feed(0)
  feed.send(voice(24000))
  feed.end()
  const rendered = await rendering
  const chunks: PcmChunk[] = []
  for await (const c of cache.stream('Cached words.', { rate: 16000 })) chunks.push(c)
  t.equal(provider.feeds.length, 1, 'not synthesised again')
  t.ok(chunks.every((c) => c.sampleRate === 8000), 'the file\'s rate')
  t.equal(chunks.length, 5, '1 s in 200 ms pieces')
  t.ok(sameSamples(samplesOf(chunks), parseWav(readFileSync(rendered.path)).samples))
  t.same(cacheFiles(dir).length, 1)
})

t.test('rate: a consumer at the cache rate gets the converted audio the file is made of', async (t) => {
  const { provider, cache } = setup(t)
  const audio = voice(24000)
  const chunks: PcmChunk[] = []
  const done = (async () => { for await (const c of cache.stream('Eight kilohertz.', { rate: 8000 })) chunks.push(c) })()
  const feed = await provider.feed(0)
  for (let at = 0; at < audio.length; at += 2400) { feed.send(audio.subarray(at, at + 2400)); await settle(1) }
  feed.end()
  await done
  t.ok(chunks.length > 5, `converted as it arrived (${chunks.length} chunks)`)
  t.ok(chunks.every((c) => c.sampleRate === 8000))
  t.ok(sameSamples(samplesOf(chunks), resample(audio, 24000, 8000)), 'same samples as converting the whole sentence')
})

t.test('identical requests share one synthesis; a late consumer replays from the start', async (t) => {
  const { provider, cache } = setup(t)
  const audio = voice(12000)
  const a: PcmChunk[] = []
  const b: PcmChunk[] = []
  const first = (async () => { for await (const c of cache.stream('Shared.')) a.push(c) })()
  const feed = await provider.feed(0)
  feed.send(audio.subarray(0, 6000))
  await settle()
  t.equal(a.length, 1)
  const second = (async () => { for await (const c of cache.stream('Shared.')) b.push(c) })()
  const rendered = cache.render('Shared.')
  await settle()
  t.equal(b.length, 1, 'the late consumer got the chunk sent before it came')
  feed.send(audio.subarray(6000))
  feed.end()
  await Promise.all([first, second])
  t.equal((await rendered).cached, false, 'render() joined the running synthesis')
  t.equal(provider.feeds.length, 1, 'one synthesis for three requests')
  t.ok(sameSamples(samplesOf(a), audio))
  t.ok(sameSamples(samplesOf(b), audio))
})

t.test('an aborted stream leaves nothing; the provider sees the abort', async (t) => {
  const { dir, provider, cache } = setup(t)
  const controller = new AbortController()
  const seen: PcmChunk[] = []
  const reading = (async () => { for await (const c of cache.stream('Never finished.', { signal: controller.signal })) seen.push(c) })()
  const feed = await provider.feed(0)
  feed.send(voice(4800))
  await settle()
  controller.abort(new PhoneAgentError('CALL_HANGUP', 'caller hung up'))
  let error: unknown
  try { await reading } catch (err) { error = err }
  t.ok(isPhoneAgentError(error, 'CALL_HANGUP'), 'the signal\'s reason')
  t.equal(seen.length, 1)
  t.ok(feed.aborted, 'the synthesis was cancelled')
  await cache.idle()
  t.same(cacheFiles(dir), [], 'no file, no temp file')

  // A new request starts afresh rather than joining the cancelled one.
  const fresh = cache.render('Never finished.')
  const next = await provider.feed(1)
  next.send(voice(2400))
  next.end()
  t.equal((await fresh).cached, false)
})

t.test('breaking out early cancels only when nobody else wants the audio', async (t) => {
  const { dir, provider, cache } = setup(t)
  const stayer: PcmChunk[] = []
  const staying = (async () => { for await (const c of cache.stream('Half heard.')) stayer.push(c) })()
  const leaving = (async () => {
    for await (const c of cache.stream('Half heard.')) { void c; break }
  })()
  const feed = await provider.feed(0)
  feed.send(voice(4800))
  await leaving
  t.notOk(feed.aborted, 'the other consumer keeps it going')
  feed.send(voice(4800, 2))
  feed.end()
  await staying
  t.equal(stayer.length, 2)
  await cache.idle()
  t.equal(cacheFiles(dir).length, 1)

  const alone = (async () => { for await (const c of cache.stream('Abandoned.')) { void c; break } })()
  const second = await provider.feed(1)
  second.send(voice(4800))
  await alone
  t.ok(second.aborted, 'the last consumer leaving before the end cancels the synthesis')
  await cache.idle()
  t.equal(cacheFiles(dir).length, 1, 'and nothing more is written')
})

t.test('a consumer that leaves once the audio is complete does not lose the file', async (t) => {
  const { dir, provider, cache } = setup(t)
  const rendering = cache.stream('Complete.')[Symbol.asyncIterator]()
  const first = rendering.next()
  const feed = await provider.feed(0)
  feed.send(voice(4800))
  feed.send(voice(4800, 3))
  feed.end()
  await first
  await settle()
  await rendering.return(undefined)
  t.notOk(feed.aborted)
  await cache.idle()
  t.equal(cacheFiles(dir).length, 1)
})

t.test('a consumer that leaves while the disk probe is slow does not lose the finished audio', async (t) => {
  // Every libuv worker busy: the cache's probe of the disk (a utimes() on a miss) waits behind
  // them, as it may on a loaded machine, while the provider's audio comes and ends at once.
  const workers = Number(process.env.UV_THREADPOOL_SIZE ?? 4)
  const busy = Array.from({ length: workers }, async () => await new Promise((resolve) => { pbkdf2('x', 'y', 300_000, 32, 'sha256', resolve) }))
  const { dir, provider, cache } = setup(t)
  const rendering = cache.stream('Probed slowly.')[Symbol.asyncIterator]()
  const first = rendering.next()
  const feed = await provider.feed(0)
  feed.send(voice(4800))
  feed.end()
  await first
  await settle()
  await rendering.return(undefined)
  t.notOk(feed.aborted, 'the provider was not cancelled')
  await Promise.all(busy)
  await cache.idle()
  t.equal(cacheFiles(dir).length, 1, 'the audio was written to the cache')
})

t.test('a provider failure after some audio: the chunks, then the typed error, and no file', async (t) => {
  const { dir, provider, cache } = setup(t)
  const seen: PcmChunk[] = []
  const reading = (async () => { for await (const c of cache.stream('Broken.')) seen.push(c) })()
  const feed = await provider.feed(0)
  feed.send(voice(4800))
  await settle()
  feed.fail(new PhoneAgentError('PROVIDER_UNAVAILABLE', 'connection reset'))
  let error: unknown
  try { await reading } catch (err) { error = err }
  t.equal(seen.length, 1)
  t.ok(isPhoneAgentError(error, 'PROVIDER_UNAVAILABLE'))
  await cache.idle()
  t.same(cacheFiles(dir), [])

  const other = (async () => { for await (const c of cache.stream('Untyped.')) void c })()
  const bad = await provider.feed(1)
  bad.fail(new Error('socket closed'))
  try { await other } catch (err) { error = err }
  t.ok(isPhoneAgentError(error, 'TTS_FAILED'), 'an untyped failure becomes TTS_FAILED')

  const empty = (async () => { for await (const c of cache.stream('Silent.')) void c })()
  ;(await provider.feed(2)).end()
  try { await empty } catch (err) { error = err }
  t.ok(isPhoneAgentError(error, 'PROVIDER_BAD_RESPONSE'), 'no audio at all is a bad response')
})

t.test('bad text is refused before any synthesis; an aborted signal at once', async (t) => {
  const { provider, cache } = setup(t)
  const refuse = async (text: string, signal?: AbortSignal): Promise<unknown> => {
    try {
      for await (const c of cache.stream(text, signal === undefined ? {} : { signal })) void c
    } catch (err) { return err }
    return undefined
  }
  t.ok(isPhoneAgentError(await refuse('   '), 'PROVIDER_BAD_REQUEST'))
  t.ok(isPhoneAgentError(await refuse('x'.repeat(5000)), 'PROVIDER_BAD_REQUEST'))
  t.ok(isPhoneAgentError(await refuse('fine', AbortSignal.abort(new PhoneAgentError('CALL_HANGUP', 'gone'))), 'CALL_HANGUP'))
  t.equal(provider.feeds.length, 0)
})

t.test('a cache file deleted behind our back is synthesised again', async (t) => {
  const { provider, cache } = setup(t)
  const first = cache.render('Deleted.')
  const feed = await provider.feed(0)
  feed.send(voice(2400))
  feed.end()
  unlinkSync((await first).path)
  const chunks: PcmChunk[] = []
  const reading = (async () => { for await (const c of cache.stream('Deleted.')) chunks.push(c) })()
  const again = await provider.feed(1)
  again.send(voice(2400))
  again.end()
  await reading
  t.equal(chunks.length, 1)
  t.equal(chunks[0]?.sampleRate, 24000, 'a fresh synthesis, not a file')
})
