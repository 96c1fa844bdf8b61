import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import t, { type Test } from 'tap'
import { CallHangupError } from '../../lib/errors.ts'
import { OpenAiLlm } from '../../lib/llm/openai.ts'
import { multipartBody } from '../../lib/providers/multipart.ts'
import { HttpStatusError, createOpenAiClient, newProviderPool } from '../../lib/providers/openai-client.ts'
import { ProviderQueue } from '../../lib/providers/queue.ts'
import { pendingProviderTimers } from '../../lib/providers/retry.ts'
import { sseEvents, type SseEvent } from '../../lib/providers/sse.ts'
import { OpenAiStt } from '../../lib/speech/stt/openai.ts'
import { OpenAiTts } from '../../lib/speech/tts/openai.ts'
import { FakeOpenAiServer, chatChunk } from '../fakes/openai-server.ts'
import { codeOf, collect, noDelay, rejection } from './helpers.ts'

/**
 * The direct OpenAI-compatible client (openai-client.ts, sse.ts, multipart.ts): the wire details
 * the SDK used to own. The request kinds themselves are tested in llm-openai and audio-openai.
 */

async function events (...pieces: Array<string | Buffer>): Promise<SseEvent[]> {
  return await collect(sseEvents((async function * () { for (const p of pieces) yield Buffer.from(p) })()))
}

t.test('SSE: LF, CRLF and CR line ends, wherever the reads split them', async (t) => {
  const expected = [{ event: undefined, data: 'uno' }, { event: undefined, data: 'due' }, { event: undefined, data: 'tre' }]
  t.same(await events('data: uno\n\ndata: due\n\ndata: tre\n\n'), expected, 'LF')
  t.same(await events('data: uno\r\n\r\ndata: due\r\n\r\ndata: tre\r\n\r\n'), expected, 'CRLF')
  t.same(await events('data: uno\r\rdata: due\r\rdata: tre\r\r'), expected, 'CR')
  // A CRLF split between two reads is one line end, not two (which would dispatch early).
  t.same(await events('data: uno\r', '\n\r', '\ndata: d', 'ue\r\n\r\nda', 'ta: tre\n', '\n'), expected, 'split CRLF')
  t.same(await events('data: a\r', '\n', 'data: b\r\n\r\n'), [{ event: undefined, data: 'a\nb' }], 'a split CRLF inside an event keeps it whole')
})

t.test('SSE: data lines join, comments and unknown fields are skipped, event names kept', async (t) => {
  t.same(await events(': keep-alive\n\nevent: error\ndata: {"a":\ndata:1}\nid: 7\nretry: 10\n\n'), [{ event: 'error', data: '{"a":\n1}' }])
  t.same(await events('data:no space\n\ndata\n\n'), [{ event: undefined, data: 'no space' }, { event: undefined, data: '' }], 'one leading space is optional; a bare field is empty')
  t.same(await events('event: only\n\n'), [], 'an event without data is not dispatched')
  t.same(await events('data: complete\n\ndata: cut sho'), [{ event: undefined, data: 'complete' }], 'an event the stream ends inside is dropped')
})

t.test('SSE: a UTF-8 character split between reads arrives whole', async (t) => {
  const bytes = Buffer.from('data: perché così\n\n')
  const at = bytes.indexOf(Buffer.from('é')) + 1
  t.same(await events(bytes.subarray(0, at), bytes.subarray(at)), [{ event: undefined, data: 'perché così' }])
})

t.test('multipart: fields and a file in pieces, one body the fake parses back', async (t) => {
  const fake = await FakeOpenAiServer.start()
  t.teardown(() => fake.close())
  fake.reply('/v1/upload', { kind: 'json', body: { ok: true } })
  const client = createOpenAiClient({ baseUrl: fake.baseUrl, apiKey: 'k' })
  // A value with CRLF and dashes cannot end its part: the boundary is random.
  const form = multipartBody([['model', 'whisper-1'], ['prompt', 'Rossi,\r\n--x perché']], { field: 'file', filename: 'a.wav', contentType: 'audio/wav', parts: [Buffer.from('RIFF'), Buffer.from([0, 1, 2, 255])] })
  const res = await client.post('upload', form.body, { signal: new AbortController().signal, contentType: form.contentType, accept: 'application/json' })
  t.same(await res.body.json(), { ok: true })
  const fields = fake.requests[0]?.fields
  t.equal(fields?.get('model')?.value.toString(), 'whisper-1')
  t.equal(fields?.get('prompt')?.value.toString(), 'Rossi,\r\n--x perché')
  t.same(fields?.get('file'), { value: Buffer.from([0x52, 0x49, 0x46, 0x46, 0, 1, 2, 255]), filename: 'a.wav', contentType: 'audio/wav' })
})

t.test('requests say accept-encoding identity; keyless servers get no Authorization; errors carry status and vendor message', async (t) => {
  const fake = await FakeOpenAiServer.start()
  t.teardown(() => fake.close())
  const keyless = createOpenAiClient({ baseUrl: `${fake.baseUrl}/`, apiKey: undefined })
  fake.reply('/v1/chat/completions', { kind: 'json', status: 429, body: { error: { message: 'Rate limit reached', type: 'rate_limit' } } })
  const err = await rejection(keyless.post('chat/completions', '{}', { signal: new AbortController().signal, contentType: 'application/json', accept: 'text/event-stream' }))
  t.ok(err instanceof HttpStatusError)
  t.match(err, { status: 429, vendorMessage: 'Rate limit reached' })
  const headers = fake.requests[0]?.headers as IncomingHttpHeaders
  t.equal(fake.requests[0]?.path, '/v1/chat/completions', 'a trailing slash on the base URL is not doubled')
  t.equal(headers['accept-encoding'], 'identity')
  t.equal(headers.authorization, undefined)
  t.equal(headers['content-type'], 'application/json')
})

/** A server that compresses unless told `identity`, and redirects its old path (307 keeps POST and body). */
async function compressingServer (t: Test): Promise<{ baseUrl: string, seen: string[] }> {
  const seen: string[] = []
  const server = createServer((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (b: Buffer) => parts.push(b))
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${Buffer.concat(parts).length}`)
      if (req.url === '/old/chat/completions') { res.writeHead(307, { location: '/v1/chat/completions' }); res.end(); return }
      const sse = ['data: ' + JSON.stringify(chatChunk({ content: 'Salve.' }, 'stop')), '', 'data: [DONE]', '', ''].join('\n')
      if (req.headers['accept-encoding'] === 'identity') { res.writeHead(200, { 'content-type': 'text/event-stream' }); res.end(sse); return }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' })
      res.end(gzipSync(sse))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) })
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

t.test('a server that compresses by default still streams plain text to us; a 307 is followed with the body', async (t) => {
  const server = await compressingServer(t)
  const pool = newProviderPool()
  t.teardown(async () => { await pool.close() })
  const llm = (base: string): OpenAiLlm => new OpenAiLlm({ client: createOpenAiClient({ baseUrl: base, apiKey: 'k', dispatcher: pool }), name: 'x', model: 'm', queue: new ProviderQueue('x', 2), retry: noDelay, timeoutMs: 5000 })
  const messages = [{ role: 'user', content: 'ciao' }] as const
  t.same(await collect(llm(`${server.baseUrl}/v1`).stream(messages, {})), [{ type: 'text', text: 'Salve.' }])
  t.same(await collect(llm(`${server.baseUrl}/old`).stream(messages, {})), [{ type: 'text', text: 'Salve.' }])
  t.equal(server.seen.length, 3)
  t.match(server.seen[2], /^POST \/v1\/chat\/completions [1-9]/, 'the redirected request kept its method and body')
})

t.test('chat: text_end only after text; comments, CRLF and an `error` event', async (t) => {
  const fake = await FakeOpenAiServer.start()
  t.teardown(() => fake.close())
  const llm = new OpenAiLlm({ client: createOpenAiClient({ baseUrl: fake.baseUrl, apiKey: 'k' }), name: 'x', model: 'm', queue: new ProviderQueue('x', 2), retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 }, timeoutMs: 5000 })
  const messages = [{ role: 'user', content: 'transfer me' }] as const
  const call = { index: 0, id: 'c1', type: 'function', function: { name: 'transfer', arguments: '{}' } }
  fake.reply('/v1/chat/completions', { kind: 'sse', chunks: [chatChunk({ tool_calls: [call] }), chatChunk({}, 'tool_calls')] })
  t.same(await collect(llm.stream(messages, {})), [{ type: 'tool_call', id: 'c1', name: 'transfer', arguments: '{}' }], 'a call with no text before it: no text_end')

  fake.reply('/v1/chat/completions', { kind: 'sse', chunks: [], done: false, raw: [': OPENROUTER PROCESSING\r\n\r\n', `data: ${JSON.stringify(chatChunk({ content: 'Ok.' }))}\r\n\r\n`, `data: ${JSON.stringify(chatChunk({}, 'stop'))}\r\n\r\ndata: [DONE]\r\n\r\n`] })
  t.same(await collect(llm.stream(messages, {})), [{ type: 'text', text: 'Ok.' }], 'comment lines and CRLF')

  fake.reply('/v1/chat/completions', { kind: 'sse', chunks: [], done: false, raw: [`data: ${JSON.stringify(chatChunk({ content: 'Un' }))}\n\n`, 'event: error\ndata: {"error":{"message":"overloaded"}}\n\n'] })
  const seen: unknown[] = []
  t.equal(codeOf(await rejection(collect(llm.stream(messages, {}), seen))), 'PROVIDER_BAD_RESPONSE')
  t.same(seen, [{ type: 'text', text: 'Un' }])

  fake.reply('/v1/chat/completions', { kind: 'sse', chunks: [], done: false, raw: ['data: 42\n\n'] })
  t.equal(codeOf(await rejection(collect(llm.stream(messages, {})))), 'PROVIDER_BAD_RESPONSE', 'an event that is not an object')
  await fake.whenNoConnections()
  t.equal(fake.openConnections, 0)
})

t.test('speech: a reset mid-body fails after the audio already yielded, without a retry', async (t) => {
  const pcm = Buffer.alloc(4800, 1)
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'audio/pcm' })
      res.write(pcm)
      // RST after the first piece: a crashed proxy, a dropped NAT mapping.
      setTimeout(() => { res.socket?.resetAndDestroy() }, 20)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const tts = (path: string): OpenAiTts => new OpenAiTts({ client: createOpenAiClient({ baseUrl: `${base}/${path}`, apiKey: 'k' }), name: 'x', model: 'm', voice: 'v', format: 'pcm', sampleRate: 24000, queue: new ProviderQueue('x', 2), retry: noDelay, timeoutMs: 5000 })

  const seen: unknown[] = []
  t.equal(codeOf(await rejection(collect(tts('reset').synthesize({ text: 'Buongiorno' }, {}), seen))), 'PROVIDER_UNAVAILABLE')
  t.equal(seen.length, 1, 'the audio before the reset was yielded, no retry after it')

  t.equal(pendingProviderTimers(), 0, 'no deadline left behind')
})

t.test('speech: an abort mid-body rejects with the caller\'s reason and closes the request\'s socket', async (t) => {
  const fake = await FakeOpenAiServer.start()
  t.teardown(() => fake.close())
  const tts = new OpenAiTts({ client: createOpenAiClient({ baseUrl: fake.baseUrl, apiKey: 'k' }), name: 'x', model: 'm', voice: 'v', format: 'pcm', sampleRate: 24000, queue: new ProviderQueue('x', 2), retry: noDelay, timeoutMs: 5000 })
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  t.teardown(release)
  fake.reply('/v1/audio/speech', { kind: 'bytes', body: Buffer.alloc(9600, 1), contentType: 'audio/pcm', chunkSize: 4800, hold: { afterChunks: 1, until: held } })
  const ac = new AbortController()
  const err = await rejection((async () => {
    for await (const chunk of tts.synthesize({ text: 'Buongiorno' }, { signal: ac.signal })) {
      t.equal(chunk.pcm.length, 4800)
      ac.abort(new CallHangupError('NORMAL_CLEARING'))
    }
  })())
  t.equal(codeOf(err), 'CALL_HANGUP', 'the caller\'s reason, not a provider error')
  await fake.whenNoConnections()
  t.equal(fake.openConnections, 0, 'the held response\'s socket was closed')
  t.equal(fake.clientAborts, 1)
})

t.test('transcribe: an abort while the server thinks rejects with the caller\'s reason and closes the request', async (t) => {
  const fake = await FakeOpenAiServer.start()
  t.teardown(() => fake.close())
  fake.reply('/v1/audio/transcriptions', { kind: 'hang' })
  const stt = new OpenAiStt({ client: createOpenAiClient({ baseUrl: fake.baseUrl, apiKey: 'k' }), name: 'x', model: 'whisper-1', queue: new ProviderQueue('x', 2), retry: noDelay, timeoutMs: 5000 })
  const ac = new AbortController()
  const pending = rejection(stt.transcribe({ pcm: Buffer.alloc(3200), sampleRate: 8000 }, { signal: ac.signal }))
  while (fake.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  ac.abort(new CallHangupError('NORMAL_CLEARING'))
  t.equal(codeOf(await pending), 'CALL_HANGUP')
  await fake.whenNoConnections()
  t.equal(fake.openConnections, 0)
  t.equal(fake.requests.length, 1, 'not retried')
})
