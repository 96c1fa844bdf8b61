import t from 'tap'
import { closeProviderConnections, createOpenAiClient, newProviderPool, providerConnections } from '../../lib/providers/openai-client.ts'
import { FakeOpenAiServer, chatChunk } from '../fakes/openai-server.ts'

/**
 * Provider requests reuse kept-alive connections: a turn no longer pays a TCP (and TLS)
 * handshake per request. The loopback fake answers with keep-alive here and numbers the
 * connection each request came on.
 */

const CHAT = '/v1/chat/completions'

function completion (text: string): { kind: 'json', body: unknown } {
  return {
    kind: 'json',
    body: {
      id: 'chatcmpl-fake', object: 'chat.completion', created: 1700000000, model: 'fake-model',
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, finish_reason: 'stop', logprobs: null }],
    },
  }
}

/**
 * undici hands a socket back to the pool on the tick after a body ends; a request sent in that
 * same tick finds it busy and opens another (kept too). Real turns always have work between
 * requests; the tests leave one turn of the event loop.
 */
async function settle (): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve))
}

async function ask (client: ReturnType<typeof createOpenAiClient>, signal = new AbortController().signal): Promise<string> {
  const body = JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'ciao' }] })
  const res = await client.post('chat/completions', body, { signal, contentType: 'application/json', accept: 'application/json' })
  const r = await res.body.json() as { choices: Array<{ message: { content: string } }> }
  return r.choices[0]?.message.content ?? ''
}

t.test('two sequential requests reuse one socket', async (t) => {
  const fake = await FakeOpenAiServer.start({ keepAlive: true })
  const pool = newProviderPool()
  t.teardown(async () => { await pool.close(); await fake.close() })
  const client = createOpenAiClient({ baseUrl: fake.baseUrl, apiKey: 'sk-test', dispatcher: pool })
  fake.reply(CHAT, completion('uno'), completion('due'))
  t.equal(await ask(client), 'uno')
  await settle()
  t.equal(await ask(client), 'due')
  t.same(fake.requests.map((r) => r.connection), [1, 1], 'both on the first connection')
  t.equal(fake.connectionsAccepted, 1, 'one TCP connection for two requests')
})

t.test('an aborted streaming request does not poison the pool', async (t) => {
  const fake = await FakeOpenAiServer.start({ keepAlive: true })
  const pool = newProviderPool()
  t.teardown(async () => { await pool.close(); await fake.close() })
  const client = createOpenAiClient({ baseUrl: fake.baseUrl, apiKey: 'sk-test', dispatcher: pool })
  fake.reply(CHAT,
    completion('prima'),
    { kind: 'sse', chunks: [chatChunk({ content: 'Una ' }), chatChunk({ content: 'risposta ' }), chatChunk({ content: 'lunga.' })], delayMs: 200 },
    completion('dopo'))
  t.equal(await ask(client), 'prima')
  await settle()

  const abort = new AbortController()
  const res = await client.post('chat/completions', JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'racconta' }], stream: true }), { signal: abort.signal, contentType: 'application/json', accept: 'text/event-stream' })
  const pieces: string[] = []
  try {
    for await (const chunk of res.body) {
      pieces.push(String(chunk))
      abort.abort(new Error('barge-in'))
    }
  } catch {}
  t.equal(pieces.length, 1, 'cut after its first piece')
  t.match(pieces[0], /Una /)

  // The next request is answered in full, with its own reply: nothing of the aborted body
  // is read as its answer, and the socket the stream was on is not handed out again.
  t.equal(await ask(client), 'dopo')
  const [first, streamed, after] = fake.requests.map((r) => r.connection)
  t.equal(streamed, first, 'the stream went out on the kept-alive connection')
  t.not(after, streamed, 'the request after the abort is on a fresh connection')
  t.equal(fake.clientAborts, 1, 'the fake saw the stream aborted')
})

t.test('against a server that closes, each request opens its own connection (no stale socket)', async (t) => {
  const fake = await FakeOpenAiServer.start()
  const pool = newProviderPool()
  t.teardown(async () => { await pool.close(); await fake.close() })
  const client = createOpenAiClient({ baseUrl: fake.baseUrl, apiKey: 'sk-test', dispatcher: pool })
  fake.reply(CHAT, completion('uno'), completion('due'))
  t.equal(await ask(client), 'uno')
  t.equal(await ask(client), 'due')
  t.same(fake.requests.map((r) => r.connection), [1, 2])
})

t.test('clients without a pool of their own share the process-wide one', async (t) => {
  const fake = await FakeOpenAiServer.start({ keepAlive: true })
  t.teardown(async () => { await closeProviderConnections(); await fake.close() })
  const stt = createOpenAiClient({ baseUrl: fake.baseUrl, apiKey: 'sk-test' })
  const llm = createOpenAiClient({ baseUrl: fake.baseUrl, apiKey: 'sk-test' })
  fake.reply(CHAT, completion('uno'), completion('due'))
  t.equal(await ask(stt), 'uno')
  await settle()
  t.equal(await ask(llm), 'due')
  t.equal(fake.connectionsAccepted, 1, 'two clients, one connection')
  const pool = providerConnections()
  await closeProviderConnections()
  t.not(providerConnections(), pool, 'closing drops the pool; the next request gets a fresh one')
})
