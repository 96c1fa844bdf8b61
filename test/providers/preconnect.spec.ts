import t, { type Test } from 'tap'
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { createOpenAiClient, newProviderPool } from '../../lib/providers/openai-client.ts'
import type { ProviderPool } from '../../lib/providers/warm-sockets.ts'

/**
 * Pre-connecting: a provider pool opens the connections a turn will use before any request,
 * without sending one (TCP only here; TLS against a real provider), and hands them to the
 * requests that follow. A plain keep-alive HTTP server numbers its connections.
 */

interface Rig {
  readonly server: Server
  readonly origin: string
  readonly baseUrl: string
  /** Connection number of each request, in order. */
  readonly requests: number[]
  readonly open: Set<Socket>
  accepted: () => number
}

async function rig (t: Test): Promise<Rig> {
  const ids = new WeakMap<Socket, number>()
  const open = new Set<Socket>()
  const requests: number[] = []
  let accepted = 0
  const server = createServer((req, res) => {
    requests.push(ids.get(req.socket) ?? 0)
    req.resume()
    req.on('end', () => { res.end('{}') })
  })
  server.on('connection', (socket: Socket) => {
    ids.set(socket, ++accepted)
    open.add(socket)
    socket.on('close', () => { open.delete(socket) })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { server, origin, baseUrl: `${origin}/v1`, requests, open, accepted: () => accepted }
}

/** Lets the loop turn until `done` (no time bound: an ordering, not a timing). */
async function until (done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 2))
}

async function post (client: ReturnType<typeof createOpenAiClient>): Promise<void> {
  const res = await client.post('chat/completions', '{}', { signal: new AbortController().signal, contentType: 'application/json', accept: 'application/json' })
  await res.body.text()
  // undici hands the socket back to the pool on the tick after the body ends.
  await new Promise((resolve) => setImmediate(resolve))
}

function pool (t: Test, keepAliveMs?: number): ProviderPool {
  const p = newProviderPool(keepAliveMs)
  t.teardown(async () => { p.dropParked(); await p.destroy() })
  return p
}

t.test('preconnect opens two connections and sends nothing; requests then use them', async (t) => {
  const r = await rig(t)
  const p = pool(t)
  const client = createOpenAiClient({ baseUrl: r.baseUrl, apiKey: 'sk-test', dispatcher: p })
  client.preconnect()
  await until(() => p.parkedCount(r.origin) === 2 && r.accepted() === 2)
  t.same(r.requests, [], 'no request was sent')
  await post(client)
  await post(client)
  t.equal(r.accepted(), 2, 'no new connection for the requests')
  t.ok(r.requests.every((c) => c === 1 || c === 2), 'each on a pre-opened connection')
  t.equal(p.parkedCount(r.origin), 1, 'the second is still waiting (the first came back to the pool)')
})

t.test('a pool that already holds a connection opens only the missing one, once', async (t) => {
  const r = await rig(t)
  const p = pool(t)
  const client = createOpenAiClient({ baseUrl: r.baseUrl, apiKey: 'sk-test', dispatcher: p })
  await post(client)
  client.preconnect()
  client.preconnect()
  await until(() => p.parkedCount(r.origin) === 1)
  client.preconnect()
  t.equal(p.parkedCount(r.origin), 1)
  await post(client)
  t.equal(r.accepted(), 2, 'one idle connection and one pre-opened: two in all')
})

t.test('a parked connection the server closes is dropped; the next request dials afresh', async (t) => {
  const r = await rig(t)
  const p = pool(t)
  const client = createOpenAiClient({ baseUrl: r.baseUrl, apiKey: 'sk-test', dispatcher: p })
  client.preconnect()
  await until(() => p.parkedCount(r.origin) === 2 && r.open.size === 2)
  for (const s of r.open) s.destroy()
  await until(() => p.parkedCount(r.origin) === 0)
  await post(client)
  t.same(r.requests, [3], 'on a new connection')
})

t.test('parked connections close after the keep-alive, and on dropParked', async (t) => {
  const r = await rig(t)
  const brief = pool(t, 50)
  createOpenAiClient({ baseUrl: r.baseUrl, apiKey: 'sk-test', dispatcher: brief }).preconnect()
  await until(() => brief.parkedCount(r.origin) === 2)
  await until(() => brief.parkedCount(r.origin) === 0 && r.open.size === 0)
  t.pass('closed unused after the keep-alive')

  const p = pool(t)
  createOpenAiClient({ baseUrl: r.baseUrl, apiKey: 'sk-test', dispatcher: p }).preconnect()
  await until(() => p.parkedCount(r.origin) === 2)
  p.dropParked()
  t.equal(p.parkedCount(r.origin), 0)
  await until(() => r.open.size === 0)
  t.same(r.requests, [], 'still nothing sent')
})

t.test('a server that refuses the connection: preconnect does not throw, the request reports it', async (t) => {
  const r = await rig(t)
  await new Promise((resolve) => r.server.close(resolve))
  const p = pool(t)
  const client = createOpenAiClient({ baseUrl: r.baseUrl, apiKey: 'sk-test', dispatcher: p })
  client.preconnect()
  p.preconnect('not a url')
  p.preconnect('ftp://127.0.0.1:21')
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(p.parkedCount(r.origin), 0)
  await t.rejects(post(client), { code: 'ECONNREFUSED' })
})
