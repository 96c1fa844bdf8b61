import t, { type Test } from 'tap'
import { CallHangupError } from '../../lib/errors.ts'
import { OpenAiLlm } from '../../lib/llm/openai.ts'
import type { LlmDelta } from '../../lib/llm/types.ts'
import { createOpenAiClient } from '../../lib/providers/openai-client.ts'
import { ProviderQueue } from '../../lib/providers/queue.ts'
import { pendingProviderTimers } from '../../lib/providers/retry.ts'
import { UsageMeter } from '../../lib/providers/usage.ts'
import { FakeOpenAiServer, chatChunk, usageChunk } from '../fakes/openai-server.ts'
import { codeOf, collect, noDelay, rejection } from './helpers.ts'

const CHAT = '/v1/chat/completions'
const messages = [{ role: 'system', content: 'You are a receptionist.' }, { role: 'user', content: 'Book me for Friday' }] as const

async function setup (t: Test, opts: { timeoutMs?: number, concurrency?: number } = {}): Promise<{ fake: FakeOpenAiServer, llm: OpenAiLlm, queue: ProviderQueue }> {
  const fake = await FakeOpenAiServer.start()
  const queue = new ProviderQueue('openai', opts.concurrency ?? 4)
  const llm = new OpenAiLlm({
    client: createOpenAiClient({ baseUrl: fake.baseUrl, apiKey: 'sk-test' }),
    name: 'openai',
    model: 'gpt-test',
    temperature: 0.3,
    queue,
    retry: noDelay,
    timeoutMs: opts.timeoutMs ?? 5000,
  })
  // Runs after the test's own assertions and before it ends: proves it left nothing behind.
  t.teardown(() => fake.close())
  const check = async (): Promise<void> => {
    await queue.onIdle()
    await fake.whenNoConnections()
    t.equal(fake.openConnections, 0, 'no request connection left open')
    t.equal(queue.running + queue.waiting, 0, 'no queued or running request')
    t.equal(pendingProviderTimers(), 0, 'no deadline or backoff timer left behind')
  }
  checks.set(t, check)
  return { fake, llm, queue }
}

const checks = new Map<Test, () => Promise<void>>()
/** Every test ends with this. */
async function leaks (t: Test): Promise<void> {
  await checks.get(t)?.()
  checks.delete(t)
}

t.test('streams text, joins tool calls split across chunks by index, reports usage', async t => {
  const { fake, llm } = await setup(t)
  fake.reply(CHAT, {
    kind: 'sse',
    chunks: [
      chatChunk({ role: 'assistant', content: '' }),
      chatChunk({ content: 'Let me ' }),
      chatChunk({ content: 'check.' }),
      chatChunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'book', arguments: '' } }] }),
      chatChunk({ tool_calls: [{ index: 0, function: { arguments: '{"day":' } }] }),
      chatChunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'notify', arguments: '{}' } }] }),
      chatChunk({ tool_calls: [{ index: 0, function: { arguments: '"Fri"}' } }] }),
      chatChunk({}, 'tool_calls'),
      usageChunk(42, 17),
    ],
  })
  const usage = new UsageMeter()
  const tools = [{ type: 'function' as const, function: { name: 'book', parameters: { type: 'object' } } }]
  const deltas = await collect(llm.stream(messages, { usage, tools, maxTokens: 100 }))
  t.same(deltas, [
    { type: 'text', text: 'Let me ' },
    { type: 'text', text: 'check.' },
    // At the first tool-call piece, not at the end: "Let me check." is spoken while the call is written.
    { type: 'text_end' },
    { type: 'tool_call', id: 'call_a', name: 'book', arguments: '{"day":"Fri"}' },
    { type: 'tool_call', id: 'call_b', name: 'notify', arguments: '{}' },
    { type: 'usage', inputTokens: 42, outputTokens: 17 },
  ])
  const req = fake.requests[0]
  t.equal(req?.headers.authorization, 'Bearer sk-test')
  t.equal(req?.headers.accept, 'application/json', 'as the SDK asked, streamed or not')
  t.equal(req?.headers['accept-encoding'], 'identity')
  t.match(req?.json, { model: 'gpt-test', stream: true, stream_options: { include_usage: true }, temperature: 0.3, max_tokens: 100, tools, messages })
  t.match(usage.snapshot(), [{ kind: 'llm', provider: 'openai', model: 'gpt-test', inputTokens: 42, outputTokens: 17, requests: 1 }])
  await leaks(t)
})

t.test('429 and 500 are retried, then the stream succeeds', async t => {
  const { fake, llm } = await setup(t)
  fake.reply(CHAT,
    { kind: 'json', status: 429, body: { error: { message: 'slow down', type: 'rate_limit' } } },
    { kind: 'json', status: 500, body: { error: { message: 'oops', type: 'server_error' } } },
    { kind: 'sse', chunks: [chatChunk({ content: 'Hi' }, 'stop')] })
  const deltas = await collect(llm.stream(messages, {}))
  t.same(deltas, [{ type: 'text', text: 'Hi' }])
  t.equal(fake.requests.length, 3)
  await leaks(t)
})

for (const [status, code] of [[401, 'PROVIDER_AUTH'], [403, 'PROVIDER_AUTH'], [400, 'PROVIDER_BAD_REQUEST'], [404, 'PROVIDER_BAD_REQUEST']] as const) {
  t.test(`${status} is permanent: ${code}, never retried`, async t => {
    const { fake, llm } = await setup(t)
    fake.reply(CHAT, { kind: 'json', status, body: { error: { message: 'no', type: 'invalid_request_error' } } })
    const err = await rejection(collect(llm.stream(messages, {})))
    t.equal(codeOf(err), code)
    t.equal(fake.requests.length, 1)
    await leaks(t)
  })
}

t.test('retries stop at maxAttempts with the last transient code', async t => {
  const { fake, llm } = await setup(t)
  const busy = { kind: 'json', status: 503, body: { error: { message: 'busy' } } } as const
  fake.reply(CHAT, busy, busy, busy, busy, busy)
  const err = await rejection(collect(llm.stream(messages, {})))
  t.equal(codeOf(err), 'PROVIDER_UNAVAILABLE')
  t.equal(fake.requests.length, 4)
  await leaks(t)
})

t.test('a connection reset before the first chunk is retried', async t => {
  const { fake, llm } = await setup(t)
  fake.reply(CHAT,
    { kind: 'sse', chunks: [chatChunk({ content: 'lost' })], destroyAfter: 0 },
    { kind: 'sse', chunks: [chatChunk({ content: 'ok' }, 'stop')] })
  t.same(await collect(llm.stream(messages, {})), [{ type: 'text', text: 'ok' }])
  t.equal(fake.requests.length, 2)
  await leaks(t)
})

t.test('a stream cut mid-way after text was yielded fails without a retry', async t => {
  const { fake, llm } = await setup(t)
  fake.reply(CHAT, { kind: 'sse', chunks: [chatChunk({ content: 'Hel' }), chatChunk({ content: 'lo' }), chatChunk({}, 'stop')], destroyAfter: 2 })
  const seen: LlmDelta[] = []
  const err = await rejection(collect(llm.stream(messages, {}), seen))
  t.equal(codeOf(err), 'PROVIDER_UNAVAILABLE')
  t.same(seen, [{ type: 'text', text: 'Hel' }, { type: 'text', text: 'lo' }])
  t.equal(fake.requests.length, 1)
  await leaks(t)
})

t.test('a stream that ends cleanly without finish_reason is a bad response', async t => {
  const { fake, llm } = await setup(t)
  fake.reply(CHAT, { kind: 'sse', chunks: [chatChunk({ content: 'Hel' })], done: false })
  const err = await rejection(collect(llm.stream(messages, {})))
  t.equal(codeOf(err), 'PROVIDER_BAD_RESPONSE')
  await leaks(t)
})

t.test('malformed JSON in the stream is a bad response', async t => {
  const { fake, llm } = await setup(t)
  fake.reply(CHAT, { kind: 'sse', chunks: [chatChunk({ content: 'Hi' })], raw: ['data: {"choices": [\n\n'], done: false })
  const err = await rejection(collect(llm.stream(messages, {})))
  t.equal(codeOf(err), 'PROVIDER_BAD_RESPONSE')
  await leaks(t)
})

t.test('an error object inside a 200 stream is a bad response', async t => {
  const { fake, llm } = await setup(t)
  fake.reply(CHAT, { kind: 'sse', chunks: [chatChunk({ content: 'Hi' }), { error: { message: 'overloaded' } }], done: false })
  const err = await rejection(collect(llm.stream(messages, {})))
  t.equal(codeOf(err), 'PROVIDER_BAD_RESPONSE')
  await leaks(t)
})

t.test('a server that never answers hits the deadline: PROVIDER_TIMEOUT, socket closed', async t => {
  const { fake, llm } = await setup(t, { timeoutMs: 300 })
  fake.reply(CHAT, { kind: 'hang' })
  const err = await rejection(collect(llm.stream(messages, {})))
  t.equal(codeOf(err), 'PROVIDER_TIMEOUT')
  await fake.whenNoConnections()
  t.equal(fake.openConnections, 0)
  await leaks(t)
})

t.test('a slow stream that outlives the deadline mid-way times out', async t => {
  const { fake, llm } = await setup(t, { timeoutMs: 400 })
  fake.reply(CHAT, { kind: 'sse', chunks: Array.from({ length: 50 }, () => chatChunk({ content: '.' })), delayMs: 100 })
  const seen: LlmDelta[] = []
  const err = await rejection(collect(llm.stream(messages, {}), seen))
  t.equal(codeOf(err), 'PROVIDER_TIMEOUT')
  t.ok(seen.length > 0 && seen.length < 50, 'some text arrived before the deadline')
  await leaks(t)
})

t.test('abort mid-stream: the caller\'s reason, the server sees the connection close', async t => {
  const { fake, llm } = await setup(t)
  fake.reply(CHAT, { kind: 'sse', chunks: Array.from({ length: 100 }, () => chatChunk({ content: 'word ' })), delayMs: 20 })
  const ac = new AbortController()
  const seen: LlmDelta[] = []
  const err = await rejection((async () => {
    for await (const d of llm.stream(messages, { signal: ac.signal })) {
      seen.push(d)
      if (seen.length === 2) ac.abort(new CallHangupError('NORMAL_CLEARING'))
    }
  })())
  t.equal(codeOf(err), 'CALL_HANGUP')
  await fake.whenNoConnections()
  t.equal(fake.openConnections, 0)
  t.equal(fake.clientAborts, 1, 'the server saw the request go away before it finished')
  await leaks(t)
})

t.test('a consumer that stops early closes the request', async t => {
  const { fake, llm } = await setup(t)
  fake.reply(CHAT, { kind: 'sse', chunks: Array.from({ length: 100 }, () => chatChunk({ content: 'word ' })), delayMs: 20 })
  for await (const d of llm.stream(messages, {})) {
    t.equal(d.type, 'text')
    break
  }
  await fake.whenNoConnections()
  t.equal(fake.clientAborts, 1)
  await leaks(t)
})

t.test('the queue bounds concurrent streams per provider', async t => {
  const { fake, llm, queue } = await setup(t, { concurrency: 1 })
  fake.reply(CHAT,
    { kind: 'sse', chunks: [chatChunk({ content: 'a' }), chatChunk({ content: 'b' }, 'stop')], delayMs: 100 },
    { kind: 'sse', chunks: [chatChunk({ content: 'c' }, 'stop')] })
  const first = llm.stream(messages, {})[Symbol.asyncIterator]()
  t.same((await first.next()).value, { type: 'text', text: 'a' })
  const second = collect(llm.stream(messages, {}))
  await new Promise(resolve => setImmediate(resolve))
  t.equal(queue.waiting, 1, 'the second stream waits for a slot')
  t.equal(fake.requests.length, 1)
  while ((await first.next()).done !== true) { /* drain */ }
  t.same(await second, [{ type: 'text', text: 'c' }])
  t.equal(fake.requests.length, 2)
  await leaks(t)
})

t.test('an abort while waiting in the queue rejects without a request', async t => {
  const { fake, llm } = await setup(t, { concurrency: 1 })
  fake.reply(CHAT, { kind: 'sse', chunks: [chatChunk({ content: 'a' }), chatChunk({}, 'stop')], delayMs: 50 })
  const first = collect(llm.stream(messages, {}))
  await new Promise(resolve => setTimeout(resolve, 10))
  const ac = new AbortController()
  const second = rejection(collect(llm.stream(messages, { signal: ac.signal })))
  await new Promise(resolve => setTimeout(resolve, 10))
  ac.abort(new CallHangupError())
  t.equal(codeOf(await second), 'CALL_HANGUP')
  await first
  t.equal(fake.requests.length, 1)
  await leaks(t)
})
