import t, { type Test } from 'tap'
import { CallHangupError } from '../../lib/errors.ts'
import { AnthropicLlm } from '../../lib/llm/anthropic.ts'
import { createAnthropicClient } from '../../lib/llm/anthropic-client.ts'
import type { ChatMessage, LlmDelta } from '../../lib/llm/types.ts'
import { closeProviderConnections, providerConnections } from '../../lib/providers/openai-client.ts'
import { ProviderQueue } from '../../lib/providers/queue.ts'
import { pendingProviderTimers } from '../../lib/providers/retry.ts'
import { UsageMeter } from '../../lib/providers/usage.ts'
import { FakeAnthropicServer, ev, textReply, toolReply } from '../fakes/anthropic-server.ts'
import { codeOf, collect, noDelay, rejection } from './helpers.ts'

const messages: ChatMessage[] = [{ role: 'system', content: 'You are a receptionist.' }, { role: 'user', content: 'Book me for Friday' }]

async function setup (t: Test, opts: { timeoutMs?: number, concurrency?: number } = {}): Promise<{ fake: FakeAnthropicServer, llm: AnthropicLlm, queue: ProviderQueue }> {
  const fake = await FakeAnthropicServer.start()
  const queue = new ProviderQueue('anthropic', opts.concurrency ?? 4)
  const llm = new AnthropicLlm({
    client: createAnthropicClient({ baseUrl: fake.baseUrl, apiKey: 'sk-ant-test' }),
    name: 'anthropic', model: 'claude-test', temperature: 0.3, maxTokens: 512,
    queue, retry: noDelay, timeoutMs: opts.timeoutMs ?? 5000,
  })
  t.teardown(() => fake.close())
  checks.set(t, async () => {
    await queue.onIdle()
    await fake.whenNoConnections()
    t.equal(fake.openConnections, 0, 'no request connection left open')
    t.equal(queue.running + queue.waiting, 0, 'no queued or running request')
    t.equal(pendingProviderTimers(), 0, 'no deadline or backoff timer left behind')
  })
  return { fake, llm, queue }
}

const checks = new Map<Test, () => Promise<void>>()
async function leaks (t: Test): Promise<void> {
  await checks.get(t)?.()
  checks.delete(t)
}

t.test('streams text, joins a tool call\'s input_json_delta pieces, reports usage with cache tokens', async t => {
  const { fake, llm } = await setup(t)
  const start = ev.messageStart(30)
  ;(start.message as { usage: Record<string, number> }).usage.cache_read_input_tokens = 12
  fake.reply({
    kind: 'events',
    events: [start, ev.textStart(0), ev.ping(), ev.text(0, 'Let me '), ev.text(0, 'check.'), ev.stop(0),
      ev.toolStart(1, 'toolu_a', 'book'), ev.json(1, ''), ev.json(1, '{"day":'), ev.json(1, '"Fri"}'), ev.stop(1),
      ev.toolStart(2, 'toolu_b', 'notify'), ev.stop(2),
      ev.messageDelta('tool_use', 17), ev.messageStop()],
  })
  const usage = new UsageMeter()
  const tools = [{ type: 'function' as const, function: { name: 'book', description: 'Book a slot', parameters: { type: 'object', properties: { day: { type: 'string' } } } } }]
  const deltas = await collect(llm.stream(messages, { usage, tools, maxTokens: 100 }))
  t.same(deltas, [
    { type: 'text', text: 'Let me ' },
    { type: 'text', text: 'check.' },
    { type: 'tool_call', id: 'toolu_a', name: 'book', arguments: '{"day":"Fri"}' },
    { type: 'tool_call', id: 'toolu_b', name: 'notify', arguments: '{}' },
    { type: 'usage', inputTokens: 42, outputTokens: 17 },
  ])
  const req = fake.requests[0]
  t.equal(req?.path, '/v1/messages')
  // The key travels as x-api-key (older SDKs) or `Authorization: Bearer` (@anthropic-ai/sdk 1.x).
  t.ok(req?.headers['x-api-key'] === 'sk-ant-test' || req?.headers.authorization === 'Bearer sk-ant-test', 'the configured key is sent')
  t.ok(typeof req?.headers['anthropic-version'] === 'string', 'the SDK sends anthropic-version')
  t.same(req?.json, {
    model: 'claude-test', max_tokens: 100, stream: true, system: 'You are a receptionist.', temperature: 0.3,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Book me for Friday' }] }],
    tools: [{ name: 'book', description: 'Book a slot', input_schema: { type: 'object', properties: { day: { type: 'string' } } } }],
  })
  t.match(usage.snapshot(), [{ kind: 'llm', provider: 'anthropic', model: 'claude-test', inputTokens: 42, outputTokens: 17, requests: 1 }])
  await leaks(t)
})

t.test('history: tool calls become tool_use blocks, results tool_result blocks first in the next user message', async t => {
  const { fake, llm } = await setup(t)
  fake.reply({ kind: 'events', events: textReply(['Done.']) })
  const history: ChatMessage[] = [
    { role: 'system', content: 'Be brief.' },
    { role: 'assistant', content: 'Hello, Rossi dental.' },
    { role: 'user', content: 'Put me through to sales' },
    { role: 'assistant', content: 'One moment.', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'transfer', arguments: '{"target":"sales"}' } }] },
    { role: 'tool', tool_call_id: 'toolu_1', content: 'Sales is busy.' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_2', type: 'function', function: { name: 'transfer', arguments: 'not json' } }] },
    { role: 'tool', tool_call_id: 'toolu_2', content: '' },
    { role: 'user', content: 'Then take a message' },
  ]
  t.same(await collect(llm.stream(history, {})), [{ type: 'text', text: 'Done.' }, { type: 'usage', inputTokens: 10, outputTokens: 5 }])
  t.same((fake.requests[0]?.json as { messages: unknown }).messages, [
    { role: 'user', content: [{ type: 'text', text: '(The call was answered.)' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'Hello, Rossi dental.' }] },
    { role: 'user', content: [{ type: 'text', text: 'Put me through to sales' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'One moment.' }, { type: 'tool_use', id: 'toolu_1', name: 'transfer', input: { target: 'sales' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sales is busy.' }] },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_2', name: 'transfer', input: {} }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_2', content: '(no result)' }, { type: 'text', text: 'Then take a message' }] },
  ])
  t.equal((fake.requests[0]?.json as { system: string }).system, 'Be brief.')
  await leaks(t)
})

t.test('429, 500 and 529 overloaded are retried, then the stream succeeds', async t => {
  const { fake, llm } = await setup(t)
  fake.reply(
    { kind: 'error', status: 429, type: 'rate_limit_error' },
    { kind: 'error', status: 500, type: 'api_error' },
    { kind: 'error', status: 529, type: 'overloaded_error' },
    { kind: 'events', events: textReply(['Hi']) })
  t.same(await collect(llm.stream(messages, {})), [{ type: 'text', text: 'Hi' }, { type: 'usage', inputTokens: 10, outputTokens: 5 }])
  t.equal(fake.requests.length, 4)
  await leaks(t)
})

for (const [status, type, code] of [[401, 'authentication_error', 'PROVIDER_AUTH'], [403, 'permission_error', 'PROVIDER_AUTH'], [400, 'invalid_request_error', 'PROVIDER_BAD_REQUEST'], [404, 'not_found_error', 'PROVIDER_BAD_REQUEST']] as const) {
  t.test(`HTTP ${status} ${type} is permanent: ${code}, never retried`, async t => {
    const { fake, llm } = await setup(t)
    fake.reply({ kind: 'error', status, type })
    t.equal(codeOf(await rejection(collect(llm.stream(messages, {})))), code)
    t.equal(fake.requests.length, 1)
    await leaks(t)
  })
}

t.test('an overloaded_error event after message_start, before any text, is retried', async t => {
  const { fake, llm } = await setup(t)
  fake.reply(
    { kind: 'events', events: [ev.messageStart(), ev.ping(), ev.error('overloaded_error', 'Overloaded')] },
    { kind: 'events', events: textReply(['ok']) })
  t.same(await collect(llm.stream(messages, {})), [{ type: 'text', text: 'ok' }, { type: 'usage', inputTokens: 10, outputTokens: 5 }])
  t.equal(fake.requests.length, 2)
  await leaks(t)
})

for (const [type, code] of [['overloaded_error', 'PROVIDER_UNAVAILABLE'], ['rate_limit_error', 'PROVIDER_RATE_LIMITED'], ['authentication_error', 'PROVIDER_AUTH'], ['invalid_request_error', 'PROVIDER_BAD_REQUEST']] as const) {
  t.test(`an ${type} event after text is ${code}, never retried`, async t => {
    const { fake, llm } = await setup(t)
    fake.reply({ kind: 'events', events: [ev.messageStart(), ev.textStart(0), ev.text(0, 'Hel'), ev.error(type)] })
    const seen: LlmDelta[] = []
    t.equal(codeOf(await rejection(collect(llm.stream(messages, {}), seen))), code)
    t.same(seen, [{ type: 'text', text: 'Hel' }])
    t.equal(fake.requests.length, 1)
    await leaks(t)
  })
}

t.test('retries stop at maxAttempts with the last transient code', async t => {
  const { fake, llm } = await setup(t)
  const busy = { kind: 'error', status: 529, type: 'overloaded_error' } as const
  fake.reply(busy, busy, busy, busy, busy)
  t.equal(codeOf(await rejection(collect(llm.stream(messages, {})))), 'PROVIDER_UNAVAILABLE')
  t.equal(fake.requests.length, 4)
  await leaks(t)
})

t.test('a connection reset before the first text is retried; one after it is not', async t => {
  const { fake, llm } = await setup(t)
  fake.reply(
    { kind: 'events', events: textReply(['lost']), destroyAfter: 1 },
    { kind: 'events', events: textReply(['Hel', 'lo']), destroyAfter: 4 })
  const seen: LlmDelta[] = []
  t.equal(codeOf(await rejection(collect(llm.stream(messages, {}), seen))), 'PROVIDER_UNAVAILABLE')
  t.same(seen, [{ type: 'text', text: 'Hel' }])
  t.equal(fake.requests.length, 2)
  await leaks(t)
})

t.test('a stream that ends without message_stop, or with malformed JSON, is a bad response', async t => {
  const { fake, llm } = await setup(t)
  fake.reply(
    { kind: 'events', events: textReply(['Hi']).slice(0, -1) },
    { kind: 'events', events: [ev.messageStart(), ev.textStart(0), ev.text(0, 'Hi')], raw: ['event: content_block_delta\ndata: {"type":\n\n'] })
  const noRetry = { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 }
  const strict = new AnthropicLlm({ client: createAnthropicClient({ baseUrl: fake.baseUrl, apiKey: 'k' }), name: 'anthropic', model: 'm', maxTokens: 10, queue: new ProviderQueue('a', 1), retry: noRetry, timeoutMs: 5000 })
  t.equal(codeOf(await rejection(collect(strict.stream(messages, {})))), 'PROVIDER_BAD_RESPONSE')
  t.equal(codeOf(await rejection(collect(llm.stream(messages, {})))), 'PROVIDER_BAD_RESPONSE')
  await leaks(t)
})

t.test('a tool call whose block never stops is a bad response, not a half-written call', async t => {
  const { fake, llm } = await setup(t)
  fake.reply({ kind: 'events', events: [ev.messageStart(), ev.textStart(0), ev.text(0, 'Sure'), ev.stop(0), ev.toolStart(1, 'toolu_x', 'transfer'), ev.json(1, '{"tar'), ev.messageDelta('max_tokens', 3), ev.messageStop()] })
  const seen: LlmDelta[] = []
  t.equal(codeOf(await rejection(collect(llm.stream(messages, {}), seen))), 'PROVIDER_BAD_RESPONSE')
  t.same(seen, [{ type: 'text', text: 'Sure' }], 'no tool call was yielded')
  await leaks(t)
})

t.test('a server that never answers hits the deadline: PROVIDER_TIMEOUT, socket closed', async t => {
  const { fake, llm } = await setup(t, { timeoutMs: 300 })
  fake.reply({ kind: 'hang' })
  t.equal(codeOf(await rejection(collect(llm.stream(messages, {})))), 'PROVIDER_TIMEOUT')
  await leaks(t)
})

t.test('a slow stream that outlives the deadline mid-way times out', async t => {
  // The first text comes at once, the rest 300 ms apart (15 s in all): the deadline falls mid-way
  // however slow the machine, so no bound here depends on its speed.
  const { fake, llm } = await setup(t, { timeoutMs: 2000 })
  fake.reply({ kind: 'events', events: textReply(Array.from({ length: 50 }, () => '.')), firstDelayMs: 0, delayMs: 300 })
  const seen: LlmDelta[] = []
  t.equal(codeOf(await rejection(collect(llm.stream(messages, {}), seen))), 'PROVIDER_TIMEOUT')
  t.ok(seen.length > 0 && seen.length < 50, 'some text arrived before the deadline')
  await leaks(t)
})

t.test('abort mid-stream: the caller\'s reason, the server sees the connection close', async t => {
  const { fake, llm } = await setup(t)
  fake.reply({ kind: 'events', events: textReply(Array.from({ length: 100 }, () => 'word ')), delayMs: 20 })
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
  t.equal(fake.clientAborts, 1, 'the server saw the request go away before it finished')
  await leaks(t)
})

t.test('a consumer that stops early closes the request', async t => {
  const { fake, llm } = await setup(t)
  fake.reply({ kind: 'events', events: textReply(Array.from({ length: 100 }, () => 'word ')), delayMs: 20 })
  for await (const d of llm.stream(messages, {})) {
    t.equal(d.type, 'text')
    break
  }
  await fake.whenNoConnections()
  t.equal(fake.clientAborts, 1)
  await leaks(t)
})

t.test('a tool call with text before it, split in many pieces', async t => {
  const { fake, llm } = await setup(t)
  fake.reply({ kind: 'events', events: toolReply('toolu_t', 'transfer_call', ['{"tar', 'get": "sa', 'les"}'], 'Connecting you.') })
  const deltas = await collect(llm.stream(messages, {}))
  t.same(deltas.filter(d => d.type !== 'usage'), [{ type: 'text', text: 'Connecting you.' }, { type: 'tool_call', id: 'toolu_t', name: 'transfer_call', arguments: '{"target": "sales"}' }])
  await leaks(t)
})

t.test('the client uses the providers\' pool: preconnect opens connections, a request takes one', async t => {
  // A pool with no connection, as after 30 s without calls.
  await closeProviderConnections()
  t.teardown(closeProviderConnections)
  const { fake, llm } = await setup(t)
  llm.preconnect()
  const pool = providerConnections()
  while (pool.parkedCount(fake.baseUrl) < 2) await new Promise((resolve) => setTimeout(resolve, 2))
  fake.reply({ kind: 'events', events: textReply(['Certo.']) })
  const deltas = await collect(llm.stream(messages, {}))
  t.same(deltas.filter((d) => d.type === 'text'), [{ type: 'text', text: 'Certo.' }])
  t.equal(pool.parkedCount(fake.baseUrl), 1, 'the request went out on a pre-opened connection')
  await leaks(t)
})
