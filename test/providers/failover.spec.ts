import * as grpc from '@grpc/grpc-js'
import t, { type Test } from 'tap'
import type { LlmDelta } from '../../lib/llm/types.ts'
import type { SttResult } from '../../lib/speech/stt/types.ts'
import type { PcmChunk } from '../../lib/speech/types.ts'
import { FakeGoogleServer } from '../fakes/google-grpc.ts'
import { FakeOpenAiServer, chatChunk } from '../fakes/openai-server.ts'
import { CHAT, MESSAGES, SPEECH, TRANSCRIBE, chains, metric, serverError } from './chain-helpers.ts'
import { codeOf, collect, rejection } from './helpers.ts'

const unavailable = { code: grpc.status.UNAVAILABLE, details: 'backend restarting' }
const FAILOVERS = 'phone_agent_provider_failovers_total'

async function openaiFake (t: Test): Promise<FakeOpenAiServer> {
  const fake = await FakeOpenAiServer.start()
  t.teardown(() => fake.close())
  return fake
}

async function googleFake (t: Test): Promise<{ fake: FakeGoogleServer, at: Record<string, unknown> }> {
  const fake = await FakeGoogleServer.start()
  t.teardown(() => fake.close())
  return { fake, at: { apiEndpoint: '127.0.0.1', port: fake.port, insecure: true } }
}

const count = (fake: FakeOpenAiServer, path: string): number => fake.requests.filter((r) => r.path === path).length
const text = (deltas: LlmDelta[]): string => deltas.map((d) => d.type === 'text' ? d.text : '').join('')

t.test('LLM: Groq fails, OpenAI answers; Groq then open, later replies go straight to OpenAI', async (t) => {
  const groq = await openaiFake(t)
  const openai = await openaiFake(t)
  const { providers, metrics } = chains(t, {
    llm: { providers: [{ provider: 'openai', name: 'groq', baseUrl: groq.baseUrl }, { provider: 'openai', name: 'openai', baseUrl: openai.baseUrl }] },
    breaker: { failures: 1 },
  })
  const llm = providers.llm!
  t.equal(llm.name, 'groq', 'named after the first while it is healthy')
  groq.reply(CHAT, serverError)
  openai.reply(CHAT, { kind: 'sse', chunks: [chatChunk({ content: 'Buongiorno' }), chatChunk({}, 'stop')] })
  t.equal(text(await collect(llm.stream(MESSAGES, {}))), 'Buongiorno')
  t.same([count(groq, CHAT), count(openai, CHAT)], [1, 1])
  t.equal(await metric(metrics, FAILOVERS, { role: 'llm', from: 'groq', to: 'openai' }), 1)
  t.equal(llm.name, 'openai', 'while Groq cools down the name is the model that answers')

  openai.reply(CHAT, { kind: 'sse', chunks: [chatChunk({ content: 'Ancora io' }), chatChunk({}, 'stop')] })
  t.equal(text(await collect(llm.stream(MESSAGES, {}))), 'Ancora io')
  t.same([count(groq, CHAT), count(openai, CHAT)], [1, 2], 'Groq was skipped, not asked')
  t.equal(await metric(metrics, 'phone_agent_provider_skipped_total', { role: 'llm', provider: 'groq' }), 1)
})

t.test('LLM: no failover once tokens have streamed; the error reaches the turn', async (t) => {
  const groq = await openaiFake(t)
  const openai = await openaiFake(t)
  const { providers, metrics } = chains(t, {
    llm: { providers: [{ provider: 'openai', name: 'groq', baseUrl: groq.baseUrl }, { provider: 'openai', name: 'openai', baseUrl: openai.baseUrl }] },
  })
  groq.reply(CHAT, { kind: 'sse', chunks: [chatChunk({ content: 'Allora' }), chatChunk({ content: ' vediamo' })], destroyAfter: 1, done: false })
  const seen: LlmDelta[] = []
  t.equal(codeOf(await rejection(collect(providers.llm!.stream(MESSAGES, {}), seen))), 'PROVIDER_UNAVAILABLE')
  t.equal(text(seen), 'Allora', 'what came is kept; nothing from another model is appended')
  t.equal(count(openai, CHAT), 0, 'OpenAI was never asked')
  t.equal(await metric(metrics, FAILOVERS, { role: 'llm', from: 'groq', to: 'openai' }), undefined)
})

t.test('TTS: OpenAI fails, Google speaks with its own voice; the cache key follows the voice that speaks', async (t) => {
  const openai = await openaiFake(t)
  const google = await googleFake(t)
  const { providers, metrics } = chains(t, {
    tts: { providers: [{ provider: 'openai', name: 'openai-tts', baseUrl: openai.baseUrl, voice: 'alloy' }, { provider: 'google', ...google.at }] },
    breaker: { failures: 1 },
  })
  const tts = providers.tts!
  const request = { text: 'Buongiorno', voice: 'shimmer', language: 'it-IT' }
  t.equal(tts.voiceId(request), 'gpt-4o-mini-tts.shimmer')
  openai.reply(SPEECH, { kind: 'json', status: 503, body: { error: { message: 'overloaded', type: 'server_error' } } })
  google.fake.script('synthesizeSpeech', { kind: 'reply', response: { audioContent: Buffer.alloc(1600, 1) } })
  const audio: PcmChunk[] = await collect(tts.synthesize(request, {}))
  t.equal(audio.reduce((n, c) => n + c.pcm.length, 0), 1600, 'the audio is Google\'s')
  t.match(google.fake.requests.synthesizeSpeech[0], { voice: { languageCode: 'it-IT', name: '' } }, 'the route\'s OpenAI voice name was not sent to Google')
  t.equal(await metric(metrics, FAILOVERS, { role: 'tts', from: 'openai-tts', to: 'google' }), 1)
  t.equal(tts.name, 'google')
  t.equal(tts.voiceId(request), 'default-it-IT', 'a file made now is cached under Google\'s key, not OpenAI\'s')
})

t.test('TTS: no failover once audio has come', async (t) => {
  const openai = await openaiFake(t)
  const google = await googleFake(t)
  const { providers } = chains(t, {
    tts: { providers: [{ provider: 'google', voice: 'en-US-Chirp3-HD-Charon', ...google.at }, { provider: 'openai', baseUrl: openai.baseUrl }] },
  })
  google.fake.script('streamingSynthesize', { kind: 'audio', chunks: [Buffer.alloc(480, 1), Buffer.alloc(480, 2)], failAfter: { chunks: 1, error: unavailable } })
  const seen: PcmChunk[] = []
  t.equal(codeOf(await rejection(collect(providers.tts!.synthesize({ text: 'Hello there' }, {}), seen))), 'PROVIDER_UNAVAILABLE')
  t.equal(seen.length, 1, 'the first chunk was delivered')
  t.equal(count(openai, SPEECH), 0, 'the sentence did not change voice half-way')
})

t.test('STT: a live Google session fails before any result; Whisper gets the whole utterance replayed', async (t) => {
  const google = await googleFake(t)
  const whisper = await openaiFake(t)
  const { providers, metrics } = chains(t, {
    stt: { providers: [{ provider: 'google', ...google.at }, { provider: 'openai', name: 'whisper', baseUrl: whisper.baseUrl }] },
  })
  google.fake.script('streamingRecognize', { kind: 'stream', respond: () => [], failAfter: { requests: 3, error: unavailable } })
  whisper.reply(TRANSCRIBE, { kind: 'json', body: { text: 'Buongiorno' } })
  const session = providers.stt!.stream({ sampleRate: 8000 })
  for (let i = 0; i < 10; i++) session.write(Buffer.alloc(320, i + 1))
  session.end()
  const results: SttResult[] = await collect(session.results)
  t.match(results, [{ text: 'Buongiorno', isFinal: true }])
  const file = whisper.requests[0]?.fields?.get('file')?.value
  t.equal(file?.length, 44 + 3200, 'every frame written so far was replayed (a 44-byte WAV header + 10 frames)')
  t.equal(file?.[44], 1, 'from the first frame')
  t.equal(await metric(metrics, FAILOVERS, { role: 'stt', from: 'google', to: 'whisper' }), 1)
})

t.test('STT: two whole-utterance recognisers read the utterance itself: no frame kept, the second gets all of it', async (t) => {
  const groq = await openaiFake(t)
  const whisper = await openaiFake(t)
  const { providers } = chains(t, {
    stt: { providers: [{ provider: 'openai', name: 'groq', baseUrl: groq.baseUrl }, { provider: 'openai', name: 'whisper', baseUrl: whisper.baseUrl }] },
  })
  groq.reply(TRANSCRIBE, serverError)
  whisper.reply(TRANSCRIBE, { kind: 'json', body: { text: 'Buongiorno' } })
  const audio = Buffer.alloc(3200)
  for (let i = 0; i < 1600; i++) audio.writeInt16LE(i * 8, i * 2)
  const asked: number[] = []
  const session = providers.stt!.stream({ sampleRate: 8000, utterance: { pcm: (max) => { asked.push(max); return audio.subarray(0, max) } } })
  t.equal(session.readsUtterance, true, 'the caller need not write')
  session.write(Buffer.alloc(320, 9)) // ignored: the utterance is what is sent
  session.end()
  t.match(await collect(session.results), [{ text: 'Buongiorno', isFinal: true }])
  const sent = [groq, whisper].map((f) => f.requests.find((r) => r.path === TRANSCRIBE)?.fields?.get('file')?.value)
  t.ok(sent[0]?.subarray(44).equals(audio), 'the first recogniser got the utterance')
  t.ok(sent[1]?.subarray(44).equals(audio), 'the next one read it again')
  t.equal(asked.length, 2)
})

t.test('STT: a chain with a streaming recogniser keeps frames for a replay, as before', async (t) => {
  const google = await googleFake(t)
  const whisper = await openaiFake(t)
  const { providers } = chains(t, {
    stt: { providers: [{ provider: 'google', ...google.at }, { provider: 'openai', name: 'whisper', baseUrl: whisper.baseUrl }] },
  })
  t.not(providers.stt!.readsUtterance, true)
  const session = providers.stt!.stream({ sampleRate: 8000, utterance: { pcm: () => Buffer.alloc(0) } })
  t.not(session.readsUtterance, true, 'frames are written')
  session.end()
  await collect(session.results).catch(() => [])
})

t.test('STT: after an interim result a failure is final; utterances fail over too', async (t) => {
  const google = await googleFake(t)
  const whisper = await openaiFake(t)
  const { providers } = chains(t, {
    stt: { providers: [{ provider: 'google', ...google.at }, { provider: 'openai', name: 'whisper', baseUrl: whisper.baseUrl }] },
  })
  const interim = { results: [{ alternatives: [{ transcript: 'Buon' }], isFinal: false, stability: 0.5 }] }
  google.fake.script('streamingRecognize', { kind: 'stream', respond: (_r, i) => i === 1 ? [interim] : [], failAfter: { requests: 6, error: unavailable } })
  const session = providers.stt!.stream({ sampleRate: 8000 })
  for (let i = 0; i < 10; i++) session.write(Buffer.alloc(320, 1))
  session.end()
  const seen: SttResult[] = []
  t.equal(codeOf(await rejection(collect(session.results, seen))), 'PROVIDER_UNAVAILABLE')
  t.match(seen, [{ text: 'Buon', isFinal: false }])
  t.equal(count(whisper, TRANSCRIBE), 0, 'Whisper was not asked after a result was seen')

  google.fake.script('recognize', { kind: 'fail', error: unavailable })
  whisper.reply(TRANSCRIBE, { kind: 'json', body: { text: 'Pronto' } })
  const utterance = await providers.stt!.transcribe({ pcm: Buffer.alloc(1600, 1), sampleRate: 8000 }, {})
  t.equal(utterance.text, 'Pronto')
  t.equal(google.fake.requests.recognize.length, 1)
})
