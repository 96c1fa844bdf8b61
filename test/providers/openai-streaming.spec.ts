import t, { type Test } from 'tap'
import { CallHangupError } from '../../lib/errors.ts'
import { ProviderQueue } from '../../lib/providers/queue.ts'
import { pendingProviderTimers } from '../../lib/providers/retry.ts'
import { UsageMeter } from '../../lib/providers/usage.ts'
import { OpenAiStreamingStt, realtimeTranscriptionUrl } from '../../lib/speech/stt/openai-streaming.ts'
import type { SttResult } from '../../lib/speech/stt/types.ts'
import { FakeOpenAiTranscription } from '../fakes/openai-transcription.ts'
import { activeTimers, codeOf, collect, noDelay, rejection } from './helpers.ts'

/** 20 ms frames of a 8 kHz tone. */
function frames (count: number, rate = 8000): Buffer[] {
  return Array.from({ length: count }, (_, f) => {
    const b = Buffer.alloc(rate / 50 * 2)
    for (let i = 0; i < rate / 50; i++) b.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * 300 * (f * rate / 50 + i) / rate)), i * 2)
    return b
  })
}

async function setup (t: Test, opts: { timeoutMs?: number } = {}): Promise<{ fake: FakeOpenAiTranscription, stt: OpenAiStreamingStt, queue: ProviderQueue, settled: () => Promise<void> }> {
  const timers = activeTimers()
  const fake = await FakeOpenAiTranscription.start()
  const queue = new ProviderQueue('openai-stream', 4)
  const stt = new OpenAiStreamingStt({
    url: realtimeTranscriptionUrl(fake.baseUrl), apiKey: 'sk-test', name: 'openai-rt', model: 'gpt-4o-mini-transcribe',
    language: 'it-IT', hints: ['Rossi', 'preventivo'], queue, retry: noDelay, timeoutMs: opts.timeoutMs ?? 3000,
  })
  t.teardown(() => fake.close())
  return {
    fake, stt, queue,
    settled: async () => {
      await queue.onIdle()
      await fake.whenNoConnections()
      t.equal(fake.openConnections, 0, 'no socket left open')
      t.equal(queue.running + queue.waiting, 0, 'no slot held')
      t.equal(pendingProviderTimers(), 0, 'no retry timer left')
      // At most as many as before: a timer an earlier spec in this process left running (an
      // idle pooled socket's) may expire meanwhile, but this test's own must all be gone.
      t.ok(activeTimers() <= timers, `no timer left (${activeTimers()} now, ${timers} before)`)
    },
  }
}

t.test('the URL: the REST base with /realtime and intent=transcription, ws for http', async (t) => {
  t.equal(realtimeTranscriptionUrl('https://api.openai.com/v1'), 'wss://api.openai.com/v1/realtime?intent=transcription')
  t.equal(realtimeTranscriptionUrl('http://127.0.0.1:9/v1/'), 'ws://127.0.0.1:9/v1/realtime?intent=transcription')
})

t.test('interim results while the model writes, then the final one; the audio goes up at 24 kHz', async (t) => {
  const { fake, stt, settled } = await setup(t)
  fake.reply({ kind: 'text', pieces: ['Vorrei ', 'un ', 'preventivo.'] })
  const usage = new UsageMeter()
  const session = stt.stream({ sampleRate: 8000, usage })
  // Written at once: audio before the socket opens is kept, not lost.
  for (const f of frames(50)) session.write(f)
  session.end()
  const results = await collect(session.results)
  t.same(results, [
    { text: 'Vorrei', isFinal: false },
    { text: 'Vorrei un', isFinal: false },
    { text: 'Vorrei un preventivo.', isFinal: false },
    { text: 'Vorrei un preventivo.', isFinal: true },
  ])
  t.same(fake.upgrades, [{ authorization: 'Bearer sk-test', path: '/v1/realtime', intent: 'transcription' }])
  t.same(fake.received[0], {
    type: 'session.update',
    session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: { model: 'gpt-4o-mini-transcribe', language: 'it', prompt: 'Rossi, preventivo' }, turn_detection: null } } },
  })
  t.same([...new Set(fake.received.map((m) => m.type))], ['session.update', 'input_audio_buffer.append', 'input_audio_buffer.commit'])
  t.equal(fake.received.at(-1)?.type, 'input_audio_buffer.commit', 'one commit, after the last audio')
  t.equal(fake.samples[0], 24000, 'one second of 8 kHz audio is one second at 24 kHz')
  t.ok(fake.received.filter((m) => m.type === 'input_audio_buffer.append').length <= 11, 'appended in 100 ms pieces, not per frame')
  t.match(usage.snapshot(), [{ kind: 'stt', provider: 'openai-rt', model: 'gpt-4o-mini-transcribe', audioSeconds: 1, requests: 1 }])
  const { pricingSchema } = await import('../../lib/providers/pricing.ts')
  t.equal(usage.cost(pricingSchema.parse({ stt: { 'openai-rt': { perMinute: 0.006 } } })).total, 0.0001, 'priced per minute under its name')
  await settled()
})

t.test('a session without audio ends with no result and no commit', async (t) => {
  const { fake, stt, settled } = await setup(t)
  const session = stt.stream({ sampleRate: 16000 })
  session.end()
  t.same(await collect(session.results), [])
  t.notOk(fake.received.some((m) => m.type === 'input_audio_buffer.commit'))
  await settled()
})

for (const [status, code] of [[401, 'PROVIDER_AUTH'], [403, 'PROVIDER_AUTH'], [429, 'PROVIDER_RATE_LIMITED'], [503, 'PROVIDER_UNAVAILABLE']] as const) {
  t.test(`a refused upgrade (HTTP ${status}) is ${code}`, async (t) => {
    const { fake, stt, settled } = await setup(t)
    fake.refuse(status)
    const session = stt.stream({ sampleRate: 8000 })
    for (const f of frames(5)) session.write(f)
    session.end()
    t.equal(codeOf(await rejection(collect(session.results))), code)
    await settled()
  })
}

for (const [reply, code] of [
  [{ kind: 'error', type: 'invalid_request_error', code: 'invalid_value' }, 'PROVIDER_BAD_REQUEST'],
  [{ kind: 'error', type: 'server_error' }, 'PROVIDER_UNAVAILABLE'],
  [{ kind: 'failed' }, 'PROVIDER_UNAVAILABLE'],
  [{ kind: 'close' }, 'PROVIDER_UNAVAILABLE'],
  [{ kind: 'garbage' }, 'PROVIDER_BAD_RESPONSE'],
] as const) {
  t.test(`a session that answers the commit with ${reply.kind}${'type' in reply ? ` ${reply.type}` : ''} fails with ${code}`, async (t) => {
    const { fake, stt, settled } = await setup(t)
    fake.reply(reply)
    const session = stt.stream({ sampleRate: 8000 })
    for (const f of frames(10)) session.write(f)
    session.end()
    t.equal(codeOf(await rejection(collect(session.results))), code)
    await settled()
  })
}

t.test('no transcript after the end of the audio: PROVIDER_TIMEOUT, socket closed', async (t) => {
  const { fake, stt, settled } = await setup(t, { timeoutMs: 300 })
  fake.reply({ kind: 'stall' })
  const session = stt.stream({ sampleRate: 8000 })
  for (const f of frames(10)) session.write(f)
  session.end()
  t.equal(codeOf(await rejection(collect(session.results))), 'PROVIDER_TIMEOUT')
  await settled()
})

t.test('an abort mid-utterance: the caller\'s reason, the socket closed, no commit', async (t) => {
  const { fake, stt, settled } = await setup(t)
  const ac = new AbortController()
  const session = stt.stream({ sampleRate: 8000, signal: ac.signal })
  const results = rejection(collect(session.results))
  for (const f of frames(10)) session.write(f)
  await new Promise((resolve) => setTimeout(resolve, 100))
  ac.abort(new CallHangupError('NORMAL_CLEARING'))
  t.equal(codeOf(await results), 'CALL_HANGUP')
  t.notOk(fake.received.some((m) => m.type === 'input_audio_buffer.commit'))
  await settled()
})

t.test('a consumer that stops reading closes the session', async (t) => {
  const { fake, stt, settled } = await setup(t)
  fake.reply({ kind: 'text', pieces: ['uno ', 'due ', 'tre'], delayMs: 50 })
  const session = stt.stream({ sampleRate: 8000 })
  for (const f of frames(10)) session.write(f)
  session.end()
  const seen: SttResult[] = []
  for await (const r of session.results) { seen.push(r); break }
  t.same(seen, [{ text: 'uno', isFinal: false }])
  await settled()
})

t.test('transcribe(): a whole utterance in one session, retried after a refused upgrade', async (t) => {
  const { fake, stt, settled } = await setup(t)
  fake.refuse(503)
  fake.reply({ kind: 'text', pieces: ['Buongiorno.'] })
  const usage = new UsageMeter()
  const out = await stt.transcribe({ pcm: Buffer.concat(frames(25, 16000)), sampleRate: 16000 }, { usage })
  t.same(out, { text: 'Buongiorno.', language: 'it-IT', durationMs: 500 })
  t.equal(fake.upgrades.length, 2, 'the second connection succeeded')
  t.equal(fake.samples.at(-1), 12000)
  await settled()
})

t.test('config: streaming is off by default; on, the provider is the realtime session; a missing key names the field', async (t) => {
  const { speechSchema } = await import('../../lib/speech/config.ts')
  const { buildProviders } = await import('../../lib/speech/index.ts')
  t.equal(speechSchema.parse({ stt: { provider: 'openai' } }).stt.openai.streaming, false)
  t.match(speechSchema.safeParse({ stt: { providers: [{ provider: 'openai', streaming: 'yes' }] } }).error?.issues, [{ path: ['stt', 'providers', 0, 'streaming'] }])
  const on = speechSchema.parse({ stt: { providers: [{ provider: 'openai', name: 'openai-rt', apiKeyEnv: 'PA_TEST_OPENAI', streaming: true }] } })
  const built = buildProviders(on, { env: { PA_TEST_OPENAI: 'sk' }, language: 'it-IT', withoutTts: true })
  t.teardown(() => built.close())
  t.ok(built.stt?.chain.current instanceof OpenAiStreamingStt, 'the list entry builds the streaming recogniser')
  t.throws(() => buildProviders(on, { env: {}, language: 'it-IT', withoutTts: true }), /speech\.stt\.providers\.0\.apiKeyEnv.*PA_TEST_OPENAI is not set/)
})

t.test('check: a streaming recogniser without apiKeyEnv is warned about; with one, its variable must be set', async (t) => {
  const { mkdtemp, rm } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const { validateConfig } = await import('../../lib/cli/validate.ts')
  const { buildConfig } = await import('../../lib/config/load.ts')
  const dir = await mkdtemp(join(tmpdir(), 'pa-stt-stream-check-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const config = (openai: Record<string, unknown>): ReturnType<typeof buildConfig> => buildConfig({
    media: { soundsDir: join(dir, 'sounds') },
    records: { dataDir: join(dir, 'data') },
    routes: { '+390212345678': { script: 'receptionist' } },
    transfers: { operator: { type: 'extension', extension: '1000' } },
    agent: { transfers: { human: 'operator' } },
    speech: { stt: { provider: 'openai', openai: { streaming: true, ...openai } }, llm: { provider: 'openai' } },
  }, dir)
  const keyless = await validateConfig(config({}), { env: {}, typecheck: false, simulated: true })
  t.match(keyless.warnings, [{ field: 'speech.stt.openai', message: /streaming: true without apiKeyEnv/ }])
  const err = await rejection(validateConfig(config({ apiKeyEnv: 'PA_TEST_UNSET_OPENAI' }), { env: {}, typecheck: false, simulated: true })) as { problems: Array<{ field: string }> }
  t.same(err.problems.map((p) => p.field), ['speech.stt.openai.apiKeyEnv'])
})
