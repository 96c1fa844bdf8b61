import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { openCallStore } from '../../lib/records/open.ts'
import { recordsSchema } from '../../lib/records/config.ts'
import { Metrics } from '../../lib/ops/metrics.ts'
import type { HandshakeFailed } from '../../lib/freeswitch/handshake.ts'
import { startTestAgent } from '../helpers/agent.ts'
import { captureLogs } from '../helpers/logs.ts'

/**
 * Connections that never finish the Event Socket handshake: raw TCP clients on loopback playing
 * a FreeSWITCH that stalls, floods or dies half-way. Every wait below is for an event (a close,
 * a reported failure), never for a time.
 */

const DID = '+390212345678'
const ROUTES = { [DID]: { script: 'take-message' } }

/** The connect reply as mod_event_socket.c parse_command "connect" sends it: url-encoded, no Content-Length. */
function connectReply (uuid: string): string {
  const headers: Array<[string, string]> = [
    ['Event-Name', 'CHANNEL_DATA'], ['Unique-ID', uuid], ['Channel-Name', 'sofia/external/+393331234567@192.0.2.10'],
    ['Caller-Caller-ID-Number', '+393331234567'], ['Caller-Caller-ID-Name', 'Mario Rossi'],
    ['Caller-Destination-Number', DID], ['Answer-State', 'ringing'],
    ['Content-Type', 'command/reply'], ['Reply-Text', '+OK\n'], ['Socket-Mode', 'async'], ['Control', 'full'],
  ]
  return headers.map(([k, v]) => `${k}: ${encodeURIComponent(v)}\n`).join('') + '\n'
}

/** A raw client: reads frames (blank-line terminated; our commands carry no body) and records its close. */
class RawClient {
  readonly socket: Socket
  readonly closed: Promise<void>
  private buf = ''
  private waiters: Array<(cmd: string | undefined) => void> = []
  private readonly queue: string[] = []
  private ended = false

  constructor (port: number) {
    this.socket = connect({ host: '127.0.0.1', port })
    this.socket.setEncoding('utf8')
    this.socket.on('error', () => {})
    this.socket.on('data', (d: string) => {
      this.buf += d
      for (let i = this.buf.indexOf('\n\n'); i >= 0; i = this.buf.indexOf('\n\n')) {
        const cmd = this.buf.slice(0, i)
        this.buf = this.buf.slice(i + 2)
        const w = this.waiters.shift()
        if (w !== undefined) w(cmd)
        else this.queue.push(cmd)
      }
    })
    // Not events.once(): it rejects on 'error', and a socket we destroy with unread data in it
    // reaches the client as a reset (ECONNRESET) before its close.
    this.closed = new Promise<void>((resolve) => {
      this.socket.once('close', () => {
        this.ended = true
        for (const w of this.waiters.splice(0)) w(undefined)
        resolve()
      })
    })
  }

  /** The next command our server sends, or undefined once the socket is closed. */
  async command (): Promise<string | undefined> {
    const q = this.queue.shift()
    if (q !== undefined || this.ended) return q
    return await new Promise((resolve) => { this.waiters.push(resolve) })
  }

  get isClosed (): boolean { return this.ended }
}

/** Resolves once `n` of the clients have closed. */
async function closedCount (clients: readonly RawClient[], n: number): Promise<void> {
  let k = 0
  await new Promise<void>((resolve) => { for (const c of clients) void c.closed.then(() => { if (++k === n) resolve() }) })
}

function fdCount (): number {
  return readdirSync('/proc/self/fd').length
}

/** Poll until the process's descriptors are back to `baseline` (closes complete on later ticks); the last count. */
async function fdsBackTo (baseline: number, waitMs = 5000): Promise<number> {
  const deadline = Date.now() + waitMs
  for (;;) {
    const n = fdCount()
    if (n <= baseline || Date.now() > deadline) return n
    await sleep(20)
  }
}

async function agentWith (t: Test, server: Record<string, unknown>, records?: Awaited<ReturnType<typeof store>>) {
  const a = await startTestAgent(t, { server, routes: ROUTES }, records === undefined ? {} : { records })
  const failures: HandshakeFailed[] = []
  const waiters: Array<() => void> = []
  a.agent.server.onHandshakeFailed((f) => { failures.push(f); for (const w of waiters.splice(0)) w() })
  const failuresReach = async (n: number): Promise<void> => {
    while (failures.length < n) await new Promise<void>((resolve) => { waiters.push(resolve) })
  }
  return { ...a, failures, failuresReach }
}

async function store (t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'pa-handshake-'))
  const s = await openCallStore(recordsSchema.parse({ dataDir: dir }), { logger: captureLogs().logger, configDir: dir, env: {} })
  t.teardown(async () => { await s.close() })
  return s
}

t.test('a connect reply sent one byte at a time is cut off at the handshake deadline', async (t) => {
  const { port, failures, failuresReach, logs } = await agentWith(t, { handshakeTimeoutMs: 300 })
  const client = new RawClient(port)
  t.equal(await client.command(), 'connect')
  const reply = connectReply(randomUUID())
  let sent = 0
  // A byte every 20 ms: the whole reply would take seconds, and the client never gives up.
  const drip = setInterval(() => { if (sent < reply.length && !client.isClosed) client.socket.write(reply[sent++] ?? '') }, 20)
  t.teardown(() => { clearInterval(drip) })
  await client.closed
  clearInterval(drip)
  t.ok(sent < reply.length, 'the reply was never finished: we closed the socket')
  await failuresReach(1)
  t.same(failures, [{ reason: 'timeout' }])
  t.match(logs.filter((r) => r.msg === 'event socket handshake failed'), [{ reason: 'timeout', call: null }])
})

t.test('connections above the handshake cap are closed at accept; the others stay until their deadline', async (t) => {
  const { port, failures, failuresReach } = await agentWith(t, { handshakeTimeoutMs: 60_000, maxHandshakes: 3 })
  const clients = Array.from({ length: 8 }, () => new RawClient(port))
  await failuresReach(5)
  await closedCount(clients, 5)
  t.same(failures.map((f) => f.reason), Array(5).fill('over_capacity'))
  const open = clients.filter((c) => !c.isClosed)
  t.equal(open.length, 3, 'the three within the cap are still in handshake')
  for (const c of open) t.equal(await c.command(), 'connect', 'and were sent connect')
  for (const c of clients) c.socket.destroy()
  await Promise.all(clients.map(async (c) => { await c.closed }))
  await failuresReach(8)
  t.same(failures.slice(5).map((f) => f.reason), ['closed', 'closed', 'closed'], 'a client leaving mid-handshake is counted too')
})

t.test('a flood of half-open handshakes: all closed by us, file descriptors back to the baseline', async (t) => {
  const { port, failures, failuresReach } = await agentWith(t, { handshakeTimeoutMs: 300, maxHandshakes: 4 })
  const baseline = fdCount()
  const clients = Array.from({ length: 20 }, () => new RawClient(port))
  // Each starts a reply and stops mid-header, and never closes on its own.
  for (const c of clients) void c.command().then((cmd) => { if (cmd === 'connect') c.socket.write('Event-Name: CHANNEL_') })
  await Promise.all(clients.map(async (c) => { await c.closed }))
  await failuresReach(20)
  const reasons = failures.map((f) => f.reason)
  t.ok(reasons.every((r) => r === 'over_capacity' || r === 'timeout'), 'every connection was closed by the cap or the deadline')
  t.ok(reasons.includes('over_capacity') && reasons.includes('timeout'), 'both limits acted')
  // At most the baseline: specs share this process, and one finishing meanwhile may close its own.
  const left = await fdsBackTo(baseline)
  t.ok(left <= baseline, `no descriptor left behind (${left}, baseline ${baseline})`)
})

for (const c of [
  { name: 'the socket closes', act: (client: RawClient) => { client.socket.destroy() }, reason: 'closed', code: 'ESL_SOCKET_CLOSED' },
  { name: 'FreeSWITCH stops answering', act: () => {}, reason: 'timeout', code: 'ESL_SOCKET_CLOSED' },
]) {
  t.test(`a call whose handshake dies after the connect reply (${c.name}) has a record`, async (t) => {
    const records = await store(t)
    const { agent, port, failures, failuresReach } = await agentWith(t, { handshakeTimeoutMs: 500 }, records)
    const client = new RawClient(port)
    const uuid = randomUUID()
    t.equal(await client.command(), 'connect')
    client.socket.write(connectReply(uuid))
    t.equal(await client.command(), `filter Unique-ID ${uuid}`, 'the first setup command, with the checked UUID')
    c.act(client)
    await client.closed
    await failuresReach(1)
    t.same(failures, [{ reason: c.reason, uuid }])
    await agent.server.drained()
    await records.flush()
    t.match(await records.get(uuid), {
      outcome: 'handshake_failed', did: DID, callerNumber: '+393331234567', callerName: 'Mario Rossi', errorCode: c.code, answeredAt: null,
    })
  })
}

t.test('phone_agent_handshake_failed_total: a series per reason from the start, unknown reasons as other', async (t) => {
  const metrics = new Metrics({ processMetrics: false })
  metrics.handshakeFailed('timeout')
  metrics.handshakeFailed('timeout')
  metrics.handshakeFailed('Not A Reason\n')
  const text = await metrics.render()
  t.match(text, /^phone_agent_handshake_failed_total\{reason="timeout"\} 2$/m)
  t.match(text, /^phone_agent_handshake_failed_total\{reason="over_capacity"\} 0$/m)
  t.match(text, /^phone_agent_handshake_failed_total\{reason="other"\} 1$/m)
  t.match(text, /^phone_agent_calls_total\{outcome="handshake_failed"\} 0$/m)
})
