import * as grpc from '@grpc/grpc-js'
import { SpeechClient } from '@google-cloud/speech'
import { TextToSpeechClient } from '@google-cloud/text-to-speech'
import t, { type Test } from 'tap'
import { CallHangupError } from '../../lib/errors.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { googleClientOptions } from '../../lib/providers/google-client.ts'
import { ProviderQueue } from '../../lib/providers/queue.ts'
import { pendingProviderTimers } from '../../lib/providers/retry.ts'
import { UsageMeter } from '../../lib/providers/usage.ts'
import { GoogleStt } from '../../lib/speech/stt/google.ts'
import type { SttResult } from '../../lib/speech/stt/types.ts'
import { GoogleTts } from '../../lib/speech/tts/google.ts'
import { FakeGoogleServer } from '../fakes/google-grpc.ts'
import { codeOf, collect, eventually, noDelay, rejection } from './helpers.ts'

async function setup (t: Test, opts: { timeoutMs?: number } = {}) {
  const fake = await FakeGoogleServer.start()
  const clientOpts = googleClientOptions({ apiEndpoint: '127.0.0.1', port: fake.port, insecure: true })
  const speechClient = new SpeechClient(clientOpts)
  const ttsClient = new TextToSpeechClient(clientOpts)
  const queue = new ProviderQueue('google', 2)
  const common = { name: 'google', queue, retry: noDelay, timeoutMs: opts.timeoutMs ?? 5000 }
  const stt = new GoogleStt({ ...common, client: speechClient, model: 'phone_call', useEnhanced: true, punctuation: true, language: 'it-IT', hints: ['Brambilla'] })
  const tts = new GoogleTts({ ...common, client: ttsClient, language: 'de-DE' })
  t.teardown(async () => {
    await speechClient.close()
    await ttsClient.close()
    await fake.close()
  })
  const leaks = async (): Promise<void> => {
    await queue.onIdle()
    t.ok(await eventually(() => fake.active === 0, 5000), 'no call left running on the server')
    t.equal(pendingProviderTimers(), 0, 'no deadline or backoff timer left behind')
  }
  return { fake, stt, tts, leaks }
}

const utterance = { pcm: Buffer.alloc(8000 * 2, 1), sampleRate: 8000 }
const unavailable = { code: grpc.status.UNAVAILABLE, details: 'backend restarting' }

t.test('recognize: the real client sends config, hints and audio; results join up', async t => {
  const { fake, stt, leaks } = await setup(t)
  fake.script('recognize', { kind: 'reply', response: { results: [
    { alternatives: [{ transcript: 'Buongiorno,', confidence: 0.9 }] },
    { alternatives: [{ transcript: ' sono Brambilla', confidence: 0.8 }] },
  ] } })
  const usage = new UsageMeter()
  const result = await stt.transcribe(utterance, { usage })
  t.equal(result.text, 'Buongiorno, sono Brambilla')
  t.equal(result.confidence?.toFixed(2), '0.80')
  t.equal(result.durationMs, 1000)
  t.match(fake.requests.recognize[0], {
    config: { encoding: 'LINEAR16', sampleRateHertz: 8000, languageCode: 'it-IT', model: 'phone_call', useEnhanced: true, speechContexts: [{ phrases: ['Brambilla'] }] },
  })
  t.equal(Buffer.from((fake.requests.recognize[0]?.audio as { content: Uint8Array }).content).length, 16000)
  t.match(usage.snapshot(), [{ kind: 'stt', provider: 'google', model: 'phone_call', audioSeconds: 1 }])
  await leaks()
})

t.test('recognize: UNAVAILABLE then success is retried', async t => {
  const { fake, stt, leaks } = await setup(t)
  fake.script('recognize', { kind: 'fail', error: unavailable }, { kind: 'reply', response: { results: [{ alternatives: [{ transcript: 'ok' }] }] } })
  t.equal((await stt.transcribe(utterance, { language: 'de-DE' })).text, 'ok')
  t.equal(fake.requests.recognize.length, 2)
  t.equal((fake.requests.recognize[1]?.config as { languageCode?: string }).languageCode, 'de-DE')
  await leaks()
})

t.test('recognize: PERMISSION_DENIED and INVALID_ARGUMENT are not retried', async t => {
  const { fake, stt, leaks } = await setup(t)
  fake.script('recognize', { kind: 'fail', error: { code: grpc.status.PERMISSION_DENIED, details: 'billing disabled' } })
  t.equal(codeOf(await rejection(stt.transcribe(utterance, {}))), 'PROVIDER_AUTH')
  fake.script('recognize', { kind: 'fail', error: { code: grpc.status.INVALID_ARGUMENT, details: 'bad sample rate' } })
  t.equal(codeOf(await rejection(stt.transcribe(utterance, {}))), 'PROVIDER_BAD_REQUEST')
  t.equal(fake.requests.recognize.length, 2)
  await leaks()
})

t.test('recognize: a server that never answers ends with PROVIDER_TIMEOUT and the call cancelled', async t => {
  const { fake, stt, leaks } = await setup(t, { timeoutMs: 400 })
  fake.script('recognize', { kind: 'hang' })
  t.equal(codeOf(await rejection(stt.transcribe(utterance, {}))), 'PROVIDER_TIMEOUT')
  await leaks()
  t.ok(await eventually(() => fake.cancelled === 1, 5000), 'the server saw the call end')
})

t.test('recognize: DEADLINE_EXCEEDED from the server is a timeout, retried within the budget', async t => {
  const { fake, stt, leaks } = await setup(t)
  fake.script('recognize', { kind: 'fail', error: { code: grpc.status.DEADLINE_EXCEEDED, details: 'slow' } },
    { kind: 'reply', response: { results: [{ alternatives: [{ transcript: 'second try' }] }] } })
  t.equal((await stt.transcribe(utterance, {})).text, 'second try')
  fake.script('recognize', ...Array.from({ length: 4 }, () => ({ kind: 'fail' as const, error: { code: grpc.status.DEADLINE_EXCEEDED, details: 'slow' } })))
  t.equal(codeOf(await rejection(stt.transcribe(utterance, {}))), 'PROVIDER_TIMEOUT')
  await leaks()
})

t.test('recognize: abort cancels the call on the server', async t => {
  const { fake, stt, leaks } = await setup(t)
  fake.script('recognize', { kind: 'hang' })
  const ac = new AbortController()
  const p = rejection(stt.transcribe(utterance, { signal: ac.signal }))
  t.ok(await eventually(() => fake.active === 1, 5000))
  ac.abort(new CallHangupError())
  t.equal(codeOf(await p), 'CALL_HANGUP')
  await leaks()
  t.ok(await eventually(() => fake.cancelled === 1, 5000), 'the server saw the call cancelled')
})

t.test('streamingRecognize: config first, audio after, interim then final results', async t => {
  const { fake, stt, leaks } = await setup(t)
  fake.script('streamingRecognize', {
    kind: 'stream',
    respond: (_req, i) => i === 2 ? [{ results: [{ alternatives: [{ transcript: 'vorrei' }], isFinal: false, stability: 0.5 }] }] : [],
    onEnd: () => [{ results: [{ alternatives: [{ transcript: 'vorrei un appuntamento', confidence: 0.875 }], isFinal: true }] }],
  })
  const usage = new UsageMeter()
  const session = stt.stream({ sampleRate: 8000, usage })
  const seen: SttResult[] = []
  const reading = collect(session.results, seen)
  for (let i = 0; i < 10; i++) session.write(Buffer.alloc(320))
  t.ok(await eventually(() => seen.length === 1, 5000), 'an interim result arrives while audio is still flowing')
  session.end()
  await reading
  t.same(seen, [
    { text: 'vorrei', isFinal: false, stability: 0.5 },
    { text: 'vorrei un appuntamento', isFinal: true, confidence: 0.875 },
  ])
  const first = fake.requests.streamingRecognize[0]
  t.match(first, { streamingConfig: { config: { encoding: 'LINEAR16', sampleRateHertz: 8000, languageCode: 'it-IT' }, interimResults: true } })
  t.equal(fake.requests.streamingRecognize.length, 11, 'config + ten audio frames')
  t.match(usage.snapshot(), [{ kind: 'stt', audioSeconds: 0.2 }])
  await leaks()
})

t.test('streamingRecognize: a server error mid-stream rejects with its code', async t => {
  const { fake, stt, leaks } = await setup(t)
  fake.script('streamingRecognize', { kind: 'stream', respond: () => [], failAfter: { requests: 3, error: { code: grpc.status.RESOURCE_EXHAUSTED, details: 'quota' } } })
  const session = stt.stream({ sampleRate: 8000 })
  for (let i = 0; i < 5; i++) session.write(Buffer.alloc(320))
  t.equal(codeOf(await rejection(collect(session.results))), 'PROVIDER_RATE_LIMITED')
  session.end()
  await leaks()
})

t.test('streamingRecognize: abort cancels the stream on the server', async t => {
  const { fake, stt, leaks } = await setup(t)
  fake.script('streamingRecognize', { kind: 'stream', respond: () => [] })
  const ac = new AbortController()
  const session = stt.stream({ sampleRate: 8000, signal: ac.signal })
  session.write(Buffer.alloc(320))
  const reading = rejection(collect(session.results))
  t.ok(await eventually(() => fake.requests.streamingRecognize.length === 2, 5000))
  ac.abort(new CallHangupError())
  t.equal(codeOf(await reading), 'CALL_HANGUP')
  await leaks()
  // The server learns of the cancel over the socket after our side has finished: wait for it.
  t.ok(await eventually(() => fake.cancelled === 1, 5000), 'the server saw the call cancelled')
})

t.test('synthesize: LINEAR16 at 8 kHz asked for, WAV header stripped', async t => {
  const { fake, tts, leaks } = await setup(t)
  const samples = Int16Array.from({ length: 800 }, (_, i) => i - 400)
  fake.script('synthesizeSpeech', { kind: 'reply', response: { audioContent: encodeWav({ sampleRate: 8000, channels: 1, samples }) } })
  const usage = new UsageMeter()
  const chunks = await collect(tts.synthesize({ text: 'Guten Tag', voice: 'de-DE-Wavenet-B' }, { usage }))
  t.equal(chunks.length, 1)
  t.equal(chunks[0]?.sampleRate, 8000)
  t.equal(chunks[0]?.pcm.length, 1600, 'the 44-byte header is gone')
  t.equal(chunks[0]?.pcm.readInt16LE(0), -400)
  t.match(fake.requests.synthesizeSpeech[0], {
    input: { text: 'Guten Tag' },
    voice: { languageCode: 'de-DE', name: 'de-DE-Wavenet-B' },
    audioConfig: { audioEncoding: 'LINEAR16', sampleRateHertz: 8000 },
  })
  t.match(usage.snapshot(), [{ kind: 'tts', provider: 'google', characters: 9 }])
  t.equal(tts.voiceId({ text: 'x' }), 'default-de-DE')
  t.not(tts.voiceId({ text: 'x', language: 'it-IT' }), tts.voiceId({ text: 'x' }))
  await leaks()
})

t.test('synthesize: UNAVAILABLE retried, UNAUTHENTICATED not, empty audio is a bad response', async t => {
  const { fake, tts, leaks } = await setup(t)
  fake.script('synthesizeSpeech', { kind: 'fail', error: unavailable }, { kind: 'reply', response: { audioContent: Buffer.alloc(320) } })
  t.equal((await collect(tts.synthesize({ text: 'a' }, {})))[0]?.pcm.length, 320, 'headerless audio is taken as 8 kHz PCM')
  fake.script('synthesizeSpeech', { kind: 'fail', error: { code: grpc.status.UNAUTHENTICATED, details: 'no' } })
  t.equal(codeOf(await rejection(collect(tts.synthesize({ text: 'a' }, {})))), 'PROVIDER_AUTH')
  fake.script('synthesizeSpeech', { kind: 'reply', response: { audioContent: Buffer.alloc(0) } })
  t.equal(codeOf(await rejection(collect(tts.synthesize({ text: 'a' }, {})))), 'PROVIDER_BAD_RESPONSE')
  t.equal(fake.requests.synthesizeSpeech.length, 4)
  await leaks()
})

/** 24 kHz PCM bytes with recognisable samples, cut into `n` messages (odd sizes included). */
function chirpAudio (samples: number, n: number): { whole: Buffer, chunks: Buffer[] } {
  const whole = Buffer.alloc(samples * 2)
  for (let i = 0; i < samples; i++) whole.writeInt16LE((i * 7) % 20000 - 10000, i * 2)
  const size = Math.ceil(whole.length / n) | 1
  const chunks: Buffer[] = []
  for (let at = 0; at < whole.length; at += size) chunks.push(whole.subarray(at, at + size))
  return { whole, chunks }
}
const CHIRP = 'en-US-Chirp3-HD-Charon'

t.test('streaming synthesize: a Chirp 3 HD voice streams; the first audio is ours before the last is sent', async t => {
  const { fake, tts, leaks } = await setup(t)
  const { whole, chunks } = chirpAudio(24000, 6)
  let release!: () => void
  const held = new Promise<void>(resolve => { release = resolve })
  // The safety timer only un-sticks a client that buffers; the assertion below is about order.
  const safety = setTimeout(release, 5000)
  fake.script('streamingSynthesize', { kind: 'audio', chunks, delayMs: 2, hold: { afterChunks: 1, until: held } })
  const usage = new UsageMeter()
  const seen: Buffer[] = []
  let sentAtFirst = -1
  for await (const chunk of tts.synthesize({ text: 'Good morning, how can I help you today?', voice: CHIRP, language: 'en-US' }, { usage })) {
    if (seen.length === 0) { sentAtFirst = fake.audioChunksSent; release() }
    t.equal(chunk.sampleRate, 24000)
    t.equal(chunk.pcm.length % 2, 0, 'whole samples')
    seen.push(chunk.pcm)
  }
  clearTimeout(safety)
  t.equal(sentAtFirst, 1, `the first chunk arrived while the server held the other ${chunks.length - 1}`)
  t.ok(Buffer.concat(seen).equals(whole), 'every byte, in order')
  t.match(fake.requests.streamingSynthesize, [
    { streamingConfig: { voice: { name: CHIRP, languageCode: 'en-US' }, streamingAudioConfig: { audioEncoding: 'PCM', sampleRateHertz: 24000 } } },
    { input: { text: 'Good morning, how can I help you today?' } },
  ])
  t.equal(fake.requests.synthesizeSpeech.length, 0, 'not the unary call')
  t.match(usage.snapshot(), [{ kind: 'tts', provider: 'google', characters: 39 }])
  await leaks()
})

t.test('streaming synthesize: retried before the first audio, never after it', async t => {
  const { fake, tts, leaks } = await setup(t)
  const { whole, chunks } = chirpAudio(4800, 3)
  fake.script('streamingSynthesize', { kind: 'fail', error: unavailable }, { kind: 'audio', chunks })
  const got = await collect(tts.synthesize({ text: 'Hello.', voice: CHIRP }, {}))
  t.ok(Buffer.concat(got.map(c => c.pcm)).equals(whole))
  // Two calls: config and text each, except that the failed one may end before its text
  // message reached the server (the fake fails the call as soon as it starts).
  const sent = fake.requests.streamingSynthesize.length
  t.ok(sent === 3 || sent === 4, `two calls (${sent} messages)`)

  fake.script('streamingSynthesize', { kind: 'fail', error: { code: grpc.status.PERMISSION_DENIED, details: 'no' } })
  t.equal(codeOf(await rejection(collect(tts.synthesize({ text: 'Hello.', voice: CHIRP }, {})))), 'PROVIDER_AUTH')

  fake.script('streamingSynthesize', { kind: 'audio', chunks, failAfter: { chunks: 1, error: unavailable } })
  const partial: unknown[] = []
  const before = fake.requests.streamingSynthesize.length
  t.equal(codeOf(await rejection(collect(tts.synthesize({ text: 'Hello.', voice: CHIRP }, {}), partial))), 'PROVIDER_UNAVAILABLE')
  t.equal(partial.length, 1, 'the audio before the failure was delivered')
  t.equal(fake.requests.streamingSynthesize.length - before, 2, 'one call: a failure after audio is final')
  fake.script('streamingSynthesize', { kind: 'audio', chunks: [] })
  t.equal(codeOf(await rejection(collect(tts.synthesize({ text: 'Hello.', voice: CHIRP }, {})))), 'PROVIDER_BAD_RESPONSE', 'no audio at all')
  await leaks()
})

t.test('streaming synthesize: abort mid-stream cancels the call on the server', async t => {
  const { fake, tts, leaks } = await setup(t)
  const { chunks } = chirpAudio(24000, 4)
  fake.script('streamingSynthesize', { kind: 'audio', chunks, hold: { afterChunks: 1, until: new Promise(() => {}) } })
  const ac = new AbortController()
  const seen: unknown[] = []
  const reading = rejection((async () => {
    for await (const c of tts.synthesize({ text: 'Never mind.', voice: CHIRP }, { signal: ac.signal })) { seen.push(c); ac.abort(new CallHangupError()) }
  })())
  t.equal(codeOf(await reading), 'CALL_HANGUP')
  t.equal(seen.length, 1)
  await leaks()
  t.ok(await eventually(() => fake.cancelled === 1, 5000), 'the server saw the call cancelled')

  const slow = await setup(t, { timeoutMs: 200 })
  slow.fake.script('streamingSynthesize', { kind: 'hang' })
  t.equal(codeOf(await rejection(collect(slow.tts.synthesize({ text: 'Hello?', voice: CHIRP }, {})))), 'PROVIDER_TIMEOUT')
  await slow.leaks()
  t.ok(await eventually(() => slow.fake.cancelled === 1, 5000), 'the timed-out call was cancelled, not left running')
})
