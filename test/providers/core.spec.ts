import { getEventListeners } from 'node:events'
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { CallHangupError, PhoneAgentError } from '../../lib/errors.ts'
import { OpenAiLlm } from '../../lib/llm/openai.ts'
import { codeForGrpcStatus, codeForHttpStatus, GrpcStatus, toProviderError } from '../../lib/providers/errors.ts'
import { ProviderQueue } from '../../lib/providers/queue.ts'
import { backoffDelay, createDeadline, pendingProviderTimers, withRetry } from '../../lib/providers/retry.ts'
import { UsageMeter } from '../../lib/providers/usage.ts'
import { speechSchema } from '../../lib/speech/config.ts'
import { Greetings } from '../../lib/speech/greetings.ts'
import { buildProviders } from '../../lib/speech/index.ts'
import { GoogleStt } from '../../lib/speech/stt/google.ts'
import { OpenAiStt } from '../../lib/speech/stt/openai.ts'
import { GoogleTts } from '../../lib/speech/tts/google.ts'
import { OpenAiTts } from '../../lib/speech/tts/openai.ts'
import { codeOf, rejection } from './helpers.ts'

t.test('HTTP and gRPC statuses map to codes whose class is the retry decision', async t => {
  const http: Array<[number, string, boolean]> = [
    [400, 'PROVIDER_BAD_REQUEST', false], [401, 'PROVIDER_AUTH', false], [403, 'PROVIDER_AUTH', false],
    [404, 'PROVIDER_BAD_REQUEST', false], [422, 'PROVIDER_BAD_REQUEST', false], [408, 'PROVIDER_TIMEOUT', true],
    [429, 'PROVIDER_RATE_LIMITED', true], [500, 'PROVIDER_UNAVAILABLE', true], [503, 'PROVIDER_UNAVAILABLE', true],
  ]
  for (const [status, code, transient] of http) {
    const err = toProviderError({ status }, { provider: 'p', operation: 'o' })
    t.same([err.code, err.transient], [code, transient], `HTTP ${status}`)
    t.equal(codeForHttpStatus(status), code)
  }
  const grpc: Array<[keyof typeof GrpcStatus, string, boolean]> = [
    ['UNAVAILABLE', 'PROVIDER_UNAVAILABLE', true], ['DEADLINE_EXCEEDED', 'PROVIDER_TIMEOUT', true],
    ['RESOURCE_EXHAUSTED', 'PROVIDER_RATE_LIMITED', true], ['INVALID_ARGUMENT', 'PROVIDER_BAD_REQUEST', false],
    ['UNAUTHENTICATED', 'PROVIDER_AUTH', false], ['PERMISSION_DENIED', 'PROVIDER_AUTH', false],
  ]
  for (const [name, code, transient] of grpc) {
    const err = toProviderError({ code: GrpcStatus[name], details: 'x' }, { provider: 'p', operation: 'o' })
    t.same([err.code, err.transient], [code, transient], `gRPC ${name}`)
    t.equal(codeForGrpcStatus(GrpcStatus[name]), code)
  }
  const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })
  t.equal(toProviderError(new TypeError('terminated', { cause: reset }), { provider: 'p', operation: 'o' }).code, 'PROVIDER_UNAVAILABLE')
  t.equal(toProviderError(new SyntaxError('Unexpected token'), { provider: 'p', operation: 'o' }).code, 'PROVIDER_BAD_RESPONSE')
  const ac = new AbortController()
  ac.abort(new CallHangupError())
  t.equal(toProviderError({ status: 500 }, { provider: 'p', operation: 'o', signal: ac.signal }).code, 'CALL_HANGUP', 'the caller\'s abort wins')
  t.notMatch(toProviderError({ status: 500 }, { provider: 'openai', operation: 'chat' }).message, /secret/, 'messages carry no request text')
})

t.test('backoff is full jitter, capped', async t => {
  const policy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000 }
  t.equal(backoffDelay(0, policy, () => 0.999), 99)
  t.equal(backoffDelay(3, policy, () => 0.999), 799)
  t.equal(backoffDelay(9, policy, () => 0.999), 999, 'capped at maxDelayMs')
  t.equal(backoffDelay(9, policy, () => 0), 0)
})

t.test('withRetry: transient retried, permanent not, a backoff past the deadline is not started', async t => {
  const opts = { provider: 'p', operation: 'o', timeoutMs: 5000, random: () => 0.5 }
  let n = 0
  const ok = await withRetry(async () => { if (n++ < 2) throw { status: 503 }; return 'done' }, { ...opts, policy: { maxAttempts: 5, baseDelayMs: 2, maxDelayMs: 4 } })
  t.same([ok, n], ['done', 3])

  n = 0
  const permanent = await rejection(withRetry(async () => { n++; throw { status: 401 } }, { ...opts, policy: { maxAttempts: 5, baseDelayMs: 2, maxDelayMs: 4 } }))
  t.same([codeOf(permanent), n], ['PROVIDER_AUTH', 1])

  n = 0
  const started = Date.now()
  const late = await rejection(withRetry(async () => { n++; throw { status: 429 } }, { ...opts, timeoutMs: 200, policy: { maxAttempts: 5, baseDelayMs: 10_000, maxDelayMs: 10_000 } }))
  t.same([codeOf(late), n], ['PROVIDER_RATE_LIMITED', 1], 'the real error, at once, not a timeout after sleeping')
  t.ok(Date.now() - started < 5000, 'did not sleep through the backoff')

  const ac = new AbortController()
  const aborted = withRetry(async () => { throw { status: 500 } }, { ...opts, signal: ac.signal, random: () => 1, policy: { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 1000 } })
  setTimeout(() => { ac.abort(new CallHangupError()) }, 20)
  t.equal(codeOf(await rejection(aborted)), 'CALL_HANGUP', 'an abort during backoff ends it with the caller\'s reason')
  t.equal(pendingProviderTimers(), 0)
})

t.test('queue: bounded concurrency, abort while waiting', async t => {
  const q = new ProviderQueue('x', 1)
  const release = await q.acquire()
  const ac = new AbortController()
  const waiting = q.acquire(ac.signal)
  t.equal(q.waiting, 1)
  ac.abort(new CallHangupError())
  t.equal(codeOf(await rejection(waiting)), 'CALL_HANGUP')
  release()
  release()
  t.equal(await q.run(async () => 7), 7)
  await q.onIdle()
  t.equal(q.running + q.waiting, 0)
})

t.test('deadline: the caller\'s abort or the timer, one signal; dispose leaves no listener on the caller\'s signal', async t => {
  const call = new AbortController()
  const deadlines = Array.from({ length: 3 }, () => createDeadline(call.signal, 60_000))
  t.equal(getEventListeners(call.signal, 'abort').length, 3)
  for (const d of deadlines.slice(1)) d.dispose()
  t.equal(getEventListeners(call.signal, 'abort').length, 1, 'a finished request leaves nothing on the call\'s signal')
  call.abort(new CallHangupError())
  t.equal(codeOf(deadlines[0]?.signal.reason), 'CALL_HANGUP')
  t.notOk(deadlines[0]?.timer.aborted, 'the timer signal says only whether the deadline passed')
  deadlines[0]?.dispose()
  const late = createDeadline(call.signal, 60_000)
  t.ok(late.signal.aborted, 'an already aborted caller aborts it at once')
  late.dispose()
  const short = createDeadline(new AbortController().signal, 5)
  await new Promise((resolve) => short.signal.addEventListener('abort', resolve))
  t.equal(codeOf(short.signal.reason), 'PROVIDER_TIMEOUT')
  t.ok(short.timer.aborted)
  short.dispose()
  t.equal(pendingProviderTimers(), 0)
})

t.test('queue: slots go to waiters in order, an aborted waiter leaves its place, onIdle waits for the last', async t => {
  const q = new ProviderQueue('x', 2)
  const order: string[] = []
  const a = await q.acquire()
  const b = await q.acquire()
  const ac = new AbortController()
  const c = q.acquire().then((r) => { order.push('c'); return r })
  const d = q.acquire(ac.signal)
  const e = q.acquire().then((r) => { order.push('e'); return r })
  t.same([q.running, q.waiting], [2, 3])
  ac.abort(new CallHangupError())
  t.equal(codeOf(await rejection(d)), 'CALL_HANGUP')
  t.equal(q.waiting, 2, 'the aborted waiter left the line')
  let idle = false
  const whenIdle = q.onIdle().then(() => { idle = true })
  b()
  const releaseC = await c
  a()
  const releaseE = await e
  t.same(order, ['c', 'e'], 'first come, first served')
  t.same([q.running, q.waiting], [2, 0], 'each release handed its slot on')
  releaseC()
  releaseE()
  releaseE()
  await whenIdle
  t.ok(idle)
  t.same([q.running, q.waiting], [0, 0], 'a second release of the same slot is ignored')
})

t.test('usage and cost from the price table; provider:model beats provider', async t => {
  const meter = new UsageMeter()
  meter.addStt('groq', 'whisper-large-v3-turbo', 90)
  meter.addLlm('openai', 'gpt-4o-mini', 1_000_000, 500_000)
  meter.addLlm('openai', 'gpt-4o-mini', 0, 500_000)
  meter.addTts('google', 'it-IT-Wavenet-A', 2000)
  meter.addTts('mystery', undefined, 10)
  const pricing = speechSchema.parse({ pricing: {
    currency: 'EUR',
    stt: { groq: { perMinute: 0.04 } },
    llm: { openai: { inputPerMillionTokens: 99, outputPerMillionTokens: 99 }, 'openai:gpt-4o-mini': { inputPerMillionTokens: 0.15, outputPerMillionTokens: 0.6 } },
    tts: { google: { perMillionCharacters: 16 } },
  } }).pricing
  const cost = meter.cost(pricing)
  t.equal(cost.currency, 'EUR')
  t.equal(cost.unpriced, 1)
  t.match(cost.lines, [
    { kind: 'stt', audioSeconds: 90 },
    { kind: 'llm', inputTokens: 1_000_000, outputTokens: 1_000_000, requests: 2, cost: 0.75 },
    { kind: 'tts', characters: 2000 },
    { kind: 'tts', provider: 'mystery', cost: undefined },
  ])
  t.equal(cost.lines[0]?.cost?.toFixed(6), '0.060000')
  t.equal(Math.round(cost.total * 1e6) / 1e6, Math.round((0.06 + 0.15 + 0.6 + 0.032) * 1e6) / 1e6)
})

t.test('config: old tts fields still parse; provider sections validate', async t => {
  const old = speechSchema.parse({ tts: { provider: 'offline', offline: { voice: 'slt' }, cacheMaxMegabytes: 64 } })
  t.match(old.tts, { provider: 'offline', offline: { voice: 'slt' }, cacheMaxMegabytes: 64 })
  t.equal(old.stt.provider, 'none')
  t.throws(() => speechSchema.parse({ llm: { openai: { apiKey: 'sk-live' } } }), 'keys are never config fields')
  t.throws(() => speechSchema.parse({ llm: { openai: { apiKeyEnv: 'not a name' } } }))
  t.throws(() => speechSchema.parse({ stt: { openai: { baseUrl: 'file:///etc/passwd' } } }))
})

t.test('buildProviders: builds each vendor, reads keys from the named variables', async t => {
  const config = speechSchema.parse({
    stt: { provider: 'openai', openai: { name: 'groq', baseUrl: 'https://api.groq.com/openai/v1', apiKeyEnv: 'GROQ_API_KEY', model: 'whisper-large-v3-turbo' } },
    llm: { provider: 'openai', openai: { name: 'ollama', baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.1' } },
    tts: { provider: 'openai', openai: { apiKeyEnv: 'OPENAI_API_KEY' } },
  })
  const p = buildProviders(config, { env: { GROQ_API_KEY: 'gsk', OPENAI_API_KEY: 'sk' }, language: 'it-IT' })
  // One provider per role is a chain of one, behind its breaker.
  t.ok(p.stt?.chain.members[0]?.provider instanceof OpenAiStt)
  t.ok(p.llm?.chain.members[0]?.provider instanceof OpenAiLlm)
  t.equal(p.llm?.name, 'ollama')
  t.ok(p.tts?.chain.members[0]?.provider instanceof OpenAiTts)
  t.same([p.stt, p.llm, p.tts].map(x => x?.chain.members.length), [1, 1, 1])
  t.same(p.queues.map(q => q.name), ['stt:groq', 'llm:ollama', 'tts:openai'])
  await p.close()

  const err = await rejection(Promise.resolve().then(() => buildProviders(config, { env: { OPENAI_API_KEY: 'sk' }, language: 'it-IT' })))
  t.equal(codeOf(err), 'CONFIG_INVALID')
  t.match((err as PhoneAgentError).message, /speech\.stt\.openai\.apiKeyEnv.*GROQ_API_KEY/)

  // With an API key: without one, Google's client looks for Application Default Credentials as it
  // is built and probes the GCE metadata server over the network.
  const google = speechSchema.parse({ stt: { provider: 'google', google: { apiKeyEnv: 'GOOGLE_API_KEY' } }, tts: { provider: 'google', google: { voice: 'it-IT-Wavenet-A', apiKeyEnv: 'GOOGLE_API_KEY' } } })
  const g = buildProviders(google, { env: { GOOGLE_API_KEY: 'AIza-test-key' }, language: 'it-IT' })
  t.ok(g.stt?.chain.members[0]?.provider instanceof GoogleStt)
  t.ok(g.tts?.chain.members[0]?.provider instanceof GoogleTts)
  t.equal(g.llm, undefined)
  await g.close()
})

t.test('greetings: rendered up front, re-rendered on change, failures left out', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'greetings-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const renders: string[] = []
  const renderer = {
    async render (text: string, o: { voice?: string | undefined, language?: string | undefined }) {
      renders.push(`${text}|${o.voice ?? ''}|${o.language ?? ''}`)
      if (text === 'broken') throw new PhoneAgentError('TTS_FAILED', 'engine crashed')
      const path = join(dir, `${renders.length}.wav`)
      await writeFile(path, 'RIFF')
      return { path }
    },
  }
  const g = new Greetings(renderer)
  const first = await g.sync([{ text: 'Buongiorno', language: 'it-IT' }, { text: 'Hello', voice: 'slt' }, { text: 'broken' }])
  t.same(first, { rendered: 2, kept: 0, dropped: 0, failed: 1 })
  const hello = g.lookup('Hello', 'slt')
  t.ok(hello?.startsWith(dir))
  t.equal(g.lookup('Hello'), undefined, 'another voice is another greeting')
  t.equal(g.lookup('broken'), undefined)

  const second = await g.sync([{ text: 'Buongiorno', language: 'it-IT' }, { text: 'Hello', voice: 'kal' }])
  t.same(second, { rendered: 1, kept: 1, dropped: 1, failed: 0 }, 'only the changed voice is rendered again')
  t.equal(g.lookup('Hello', 'slt'), undefined)
  t.ok(g.lookup('Hello', 'kal'))

  await unlink(g.lookup('Buongiorno', undefined, 'it-IT') ?? '')
  t.equal(g.lookup('Buongiorno', undefined, 'it-IT'), undefined, 'a file the cache evicted is not handed out')
  const third = await g.sync([{ text: 'Buongiorno', language: 'it-IT' }, { text: 'Hello', voice: 'kal' }])
  t.same(third, { rendered: 1, kept: 1, dropped: 0, failed: 0 })
  t.equal(renders.length, 5)
})
