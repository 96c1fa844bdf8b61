import t, { type Test } from 'tap'
import { CallHangupError } from '../../lib/errors.ts'
import { encodeWav, parseWav } from '../../lib/media/wav.ts'
import { createOpenAiClient } from '../../lib/providers/openai-client.ts'
import { ProviderQueue } from '../../lib/providers/queue.ts'
import { pendingProviderTimers } from '../../lib/providers/retry.ts'
import { UsageMeter } from '../../lib/providers/usage.ts'
import { OpenAiStt } from '../../lib/speech/stt/openai.ts'
import { OpenAiTts } from '../../lib/speech/tts/openai.ts'
import type { PcmChunk } from '../../lib/speech/types.ts'
import { FakeOpenAiServer } from '../fakes/openai-server.ts'
import { codeOf, collect, noDelay, rejection } from './helpers.ts'

const STT = '/v1/audio/transcriptions'
const TTS = '/v1/audio/speech'

async function setup (t: Test, opts: { timeoutMs?: number, format?: 'pcm' | 'wav' } = {}) {
  const fake = await FakeOpenAiServer.start()
  t.teardown(() => fake.close())
  const client = createOpenAiClient({ baseUrl: fake.baseUrl, apiKey: 'gsk-test' })
  const queue = new ProviderQueue('groq', 2)
  const common = { client, name: 'groq', queue, retry: noDelay, timeoutMs: opts.timeoutMs ?? 5000 }
  const stt = new OpenAiStt({ ...common, model: 'whisper-large-v3-turbo', language: 'it-IT', hints: ['Rossi', 'Brambilla'] })
  const tts = new OpenAiTts({ ...common, model: 'tts-1', voice: 'alloy', format: opts.format ?? 'pcm', sampleRate: 24000 })
  const leaks = async (): Promise<void> => {
    await queue.onIdle()
    await fake.whenNoConnections()
    t.equal(fake.openConnections, 0, 'no request connection left open')
    t.equal(pendingProviderTimers(), 0, 'no deadline or backoff timer left behind')
  }
  return { fake, stt, tts, leaks }
}

/** One second of a 16 kHz ramp: easy to recognise after a round trip. */
const utterance: PcmChunk = (() => {
  const pcm = Buffer.alloc(16000 * 2)
  for (let i = 0; i < 16000; i++) pcm.writeInt16LE((i % 200) * 100 - 10000, i * 2)
  return { pcm, sampleRate: 16000 }
})()

t.test('transcribe uploads a WAV with model, ISO-639-1 language and hints as prompt', async t => {
  const { fake, stt, leaks } = await setup(t)
  fake.reply(STT, { kind: 'json', body: { text: ' Buongiorno, sono Rossi. ' } })
  const usage = new UsageMeter()
  const result = await stt.transcribe(utterance, { usage })
  t.same(result, { text: 'Buongiorno, sono Rossi.', language: 'it-IT', durationMs: 1000 })
  const fields = fake.requests[0]?.fields
  t.equal(fields?.get('model')?.value.toString(), 'whisper-large-v3-turbo')
  t.equal(fields?.get('language')?.value.toString(), 'it')
  t.equal(fields?.get('prompt')?.value.toString(), 'Rossi, Brambilla')
  t.equal(fields?.get('response_format')?.value.toString(), 'json')
  const file = fields?.get('file')
  t.equal(file?.filename, 'utterance.wav')
  const wav = parseWav(file?.value ?? Buffer.alloc(0))
  t.equal(wav.sampleRate, 16000)
  t.equal(wav.samples.length, 16000)
  t.equal(wav.samples[1], utterance.pcm.readInt16LE(2), 'samples arrive intact')
  t.equal(fake.requests[0]?.headers.authorization, 'Bearer gsk-test')
  t.match(usage.snapshot(), [{ kind: 'stt', provider: 'groq', model: 'whisper-large-v3-turbo', audioSeconds: 1, requests: 1 }])
  await leaks()
})

t.test('transcribe: 500 then 200 is retried; 401 is not', async t => {
  const { fake, stt, leaks } = await setup(t)
  fake.reply(STT, { kind: 'json', status: 502, body: { error: { message: 'bad gateway' } } }, { kind: 'json', body: { text: 'ok' } })
  t.equal((await stt.transcribe(utterance, {})).text, 'ok')
  t.equal(fake.requests.length, 2)
  fake.reply(STT, { kind: 'json', status: 401, body: { error: { message: 'bad key' } } })
  t.equal(codeOf(await rejection(stt.transcribe(utterance, {}))), 'PROVIDER_AUTH')
  t.equal(fake.requests.length, 3)
  await leaks()
})

t.test('transcribe: a reply without text is a bad response; a slow one times out', async t => {
  const { fake, stt, leaks } = await setup(t, { timeoutMs: 300 })
  fake.reply(STT, { kind: 'json', body: { words: [] } })
  t.equal(codeOf(await rejection(stt.transcribe(utterance, {}))), 'PROVIDER_BAD_RESPONSE')
  fake.reply(STT, { kind: 'json', body: { text: 'late' }, delayMs: 2000 })
  t.equal(codeOf(await rejection(stt.transcribe(utterance, {}))), 'PROVIDER_TIMEOUT')
  await leaks()
})

t.test('a buffered live session transcribes once at end()', async t => {
  const { fake, stt, leaks } = await setup(t)
  fake.reply(STT, { kind: 'json', body: { text: 'pronto' } })
  const session = stt.stream({ sampleRate: 16000 })
  for (let i = 0; i < utterance.pcm.length; i += 640) session.write(utterance.pcm.subarray(i, i + 640))
  t.equal(fake.requests.length, 0, 'nothing is sent before end()')
  session.end()
  t.same(await collect(session.results), [{ text: 'pronto', isFinal: true, confidence: undefined }])
  t.equal(parseWav(fake.requests[0]?.fields?.get('file')?.value ?? Buffer.alloc(0)).samples.length, 16000)
  await leaks()
})

t.test('a buffered session aborted before end() rejects with the caller\'s reason', async t => {
  const { fake, stt, leaks } = await setup(t)
  const ac = new AbortController()
  const session = stt.stream({ sampleRate: 16000, signal: ac.signal })
  session.write(utterance.pcm)
  ac.abort(new CallHangupError())
  session.end()
  t.equal(codeOf(await rejection(collect(session.results))), 'CALL_HANGUP')
  t.equal(fake.requests.length, 0)
  await leaks()
})

t.test('speech: PCM streamed through, odd-sized HTTP chunks re-aligned to samples', async t => {
  const { fake, tts, leaks } = await setup(t)
  const pcm = Buffer.alloc(4801)
  for (let i = 0; i < 2400; i++) pcm.writeInt16LE(i - 1200, i * 2)
  fake.reply(TTS, { kind: 'bytes', body: pcm.subarray(0, 4800), contentType: 'audio/pcm', chunkSize: 333, delayMs: 5 })
  const usage = new UsageMeter()
  const chunks = await collect(tts.synthesize({ text: 'Buongiorno', voice: 'nova' }, { usage }))
  t.ok(chunks.length > 1, 'audio is yielded as it arrives')
  t.ok(chunks.every(c => c.sampleRate === 24000 && c.pcm.length % 2 === 0), 'every chunk holds whole samples')
  t.same(Buffer.concat(chunks.map(c => c.pcm)), pcm.subarray(0, 4800))
  t.match(fake.requests[0]?.json, { model: 'tts-1', voice: 'nova', input: 'Buongiorno', response_format: 'pcm' })
  t.equal(fake.requests[0]?.headers.accept, 'application/octet-stream')
  t.match(usage.snapshot(), [{ kind: 'tts', provider: 'groq', characters: 10 }])
  t.equal(tts.voiceId({ text: 'x' }), 'tts-1.alloy')
  t.not(tts.voiceId({ text: 'x', voice: 'nova' }), tts.voiceId({ text: 'x' }), 'different voices never share a cache key')
  await leaks()
})

t.test('speech: the first PCM is ours while the server still holds the rest (the client does not buffer the body)', async t => {
  const { fake, tts, leaks } = await setup(t)
  const pcm = Buffer.alloc(24000 * 2)
  for (let i = 0; i < 24000; i++) pcm.writeInt16LE((i * 13) % 30000 - 15000, i * 2)
  let release!: () => void
  const held = new Promise<void>(resolve => { release = resolve })
  // The safety timer only un-sticks a client that buffers; the assertion is about order.
  const safety = setTimeout(release, 5000)
  fake.reply(TTS, { kind: 'bytes', body: pcm, contentType: 'audio/pcm', chunkSize: 9600, delayMs: 2, hold: { afterChunks: 1, until: held } })
  const seen: Buffer[] = []
  let sentAtFirst = -1
  for await (const chunk of tts.synthesize({ text: 'Good morning.' }, {})) {
    if (seen.length === 0) { sentAtFirst = fake.bodyChunksSent; release() }
    seen.push(chunk.pcm)
  }
  clearTimeout(safety)
  t.equal(sentAtFirst, 1, 'the first chunk arrived while the server held the other four')
  t.ok(Buffer.concat(seen).equals(pcm), 'every byte, in order')
  await leaks()
})

t.test('speech as WAV: the header gives the rate', async t => {
  const { fake, tts, leaks } = await setup(t, { format: 'wav' })
  const samples = Int16Array.from({ length: 1600 }, (_, i) => i)
  fake.reply(TTS, { kind: 'bytes', body: encodeWav({ sampleRate: 16000, channels: 1, samples }), contentType: 'audio/wav' })
  const chunks = await collect(tts.synthesize({ text: 'Hallo' }, {}))
  t.equal(chunks.length, 1)
  t.equal(chunks[0]?.sampleRate, 16000)
  t.equal(chunks[0]?.pcm.length, 3200)
  await leaks()
})

t.test('speech: empty audio, garbage WAV, 429 retry, 403 no retry', async t => {
  const { fake, tts, leaks } = await setup(t)
  fake.reply(TTS, { kind: 'bytes', body: Buffer.alloc(0), contentType: 'audio/pcm' })
  t.equal(codeOf(await rejection(collect(tts.synthesize({ text: 'a' }, {})))), 'PROVIDER_BAD_RESPONSE')
  fake.reply(TTS, { kind: 'json', status: 429, body: { error: { message: 'slow' } } }, { kind: 'bytes', body: Buffer.alloc(100), contentType: 'audio/pcm' })
  t.equal((await collect(tts.synthesize({ text: 'a' }, {}))).length, 1)
  fake.reply(TTS, { kind: 'json', status: 403, body: { error: { message: 'no' } } })
  t.equal(codeOf(await rejection(collect(tts.synthesize({ text: 'a' }, {})))), 'PROVIDER_AUTH')
  t.equal(fake.requests.length, 4)
  await leaks()

  // An error page sent with 200 (a proxy, a misconfigured server) is not played as PCM noise.
  for (const contentType of ['text/html; charset=utf-8', 'application/json']) {
    fake.reply(TTS, { kind: 'bytes', body: Buffer.from('<html><body>Bad gateway</body></html>'), contentType })
    const err = await rejection(collect(tts.synthesize({ text: 'a' }, {})))
    t.equal(codeOf(err), 'PROVIDER_BAD_RESPONSE', contentType)
  }
  await leaks()

  const wavTts = await setup(t, { format: 'wav' })
  wavTts.fake.reply(TTS, { kind: 'bytes', body: Buffer.from('RIFF....WAVEjunk'), contentType: 'audio/wav' })
  t.equal(codeOf(await rejection(collect(wavTts.tts.synthesize({ text: 'a' }, {})))), 'PROVIDER_BAD_RESPONSE')
  await wavTts.leaks()
})
