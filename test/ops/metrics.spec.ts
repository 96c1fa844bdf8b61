import { request } from 'node:http'
import t from 'tap'
import { startOpsServer } from '../../lib/ops/http.ts'
import { Metrics } from '../../lib/ops/metrics.ts'
import { opsSchema } from '../../lib/ops/config.ts'
import { openSqliteDriver } from '../../lib/records/sqlite-driver.ts'
import { openSqlCallStore } from '../../lib/records/store.ts'
import { logSink, leakedHandlesSettled } from '../records/helpers.ts'

async function get (url: string, method = 'GET'): Promise<{ status: number, type: string, body: string, connection: string }> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body, connection: String(res.headers.connection) }) })
    })
    req.on('error', reject)
    req.end()
  })
}

/** The value of one series in the text exposition, or undefined. */
function sample (text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('recording calls drives the metrics', async (t) => {
  const metrics = new Metrics({ processMetrics: false })
  const store = await openSqlCallStore({ driver: openSqliteDriver(':memory:'), instance: 'm', logger: logSink().logger, observer: metrics })
  t.teardown(() => store.close())

  const a = store.begin({ uuid: 'a', did: '+391' })
  const b = store.begin({ uuid: 'b', did: '+391' })
  const c = store.begin({ uuid: 'c', did: '+391' })
  let text = await metrics.render()
  t.equal(sample(text, 'phone_agent_active_calls'), 3)
  t.equal(sample(text, 'phone_agent_calls_total{outcome="completed"}'), 0, 'outcomes exist at zero before the first call')

  a.latency({ turn: 1, speechEndAt: 1_000, sttFinalAt: 1_150, llmFirstTokenAt: 1_550, firstSentenceAt: 1_700, ttsAudioAt: 1_800, firstFrameAt: 1_820 })
  a.latency({ turn: 2, speechEndAt: 5_000, sttFinalAt: 5_100 })
  a.error({ code: 'PROVIDER_TIMEOUT', message: 'x', provider: 'google' })
  a.error({ code: 'PROVIDER_TIMEOUT', message: 'y', provider: 'google' })
  a.error({ code: 'weird code from somewhere', message: 'z' })
  await a.end({ outcome: 'completed' })
  b.rejected('rate_limit')
  await b.end({ outcome: 'rejected' })
  c.rejected('Caller "Evil" <sip:x>')
  await c.end({ outcome: 'rejected' })

  text = await metrics.render()
  t.equal(sample(text, 'phone_agent_active_calls'), 0)
  t.equal(sample(text, 'phone_agent_calls_total{outcome="completed"}'), 1)
  t.equal(sample(text, 'phone_agent_calls_total{outcome="rejected"}'), 2)
  t.equal(sample(text, 'phone_agent_admission_rejections_total{reason="rate_limit"}'), 1)
  t.equal(sample(text, 'phone_agent_admission_rejections_total{reason="other"}'), 1, 'free text never becomes a label value')
  t.equal(sample(text, 'phone_agent_errors_total{code="PROVIDER_TIMEOUT",provider="google"}'), 2)
  t.equal(sample(text, 'phone_agent_errors_total{code="other",provider="none"}'), 1)
  t.equal(sample(text, 'phone_agent_turn_latency_seconds_count{stage="stt"}'), 2)
  t.equal(sample(text, 'phone_agent_turn_latency_seconds_count{stage="total"}'), 1, 'total only when the reply reached the caller')
  t.ok(Math.abs((sample(text, 'phone_agent_turn_latency_seconds_sum{stage="total"}') ?? 0) - 0.82) < 1e-9)
  t.equal(sample(text, 'phone_agent_turn_latency_seconds_bucket{le="0.5",stage="llm_first_token"}'), 1)
  t.equal(sample(text, 'phone_agent_turn_latency_seconds_bucket{le="0.3",stage="llm_first_token"}'), 0)
  t.match(text, /# TYPE phone_agent_turn_latency_seconds histogram/)
})

t.test('/metrics and /healthz over HTTP', async (t) => {
  const metrics = new Metrics()
  metrics.recordWriteFailed()
  let ok = true
  const server = await startOpsServer({ host: '127.0.0.1', port: 0, metrics, health: () => ({ ok, activeCalls: 2 }), logger: logSink().logger })
  t.teardown(() => server.close())

  const m = await get(`${server.url}/metrics`)
  t.equal(m.status, 200)
  t.match(m.type, /^text\/plain; version=0\.0\.4/)
  t.equal(sample(m.body, 'phone_agent_record_write_failures_total'), 1)
  t.match(m.body, /\nprocess_resident_memory_bytes \d+/, 'process metrics on by default')

  t.same(await get(`${server.url}/healthz`), { status: 200, type: 'application/json', body: '{"status":"ok","ok":true,"activeCalls":2}\n', connection: 'close' })
  ok = false
  const draining = await get(`${server.url}/healthz?verbose=1`)
  t.equal(draining.status, 503, 'unhealthy while shutting down')
  t.match(JSON.parse(draining.body), { status: 'unavailable', ok: false })
  t.equal((await get(`${server.url}/healthz`, 'HEAD')).body, '')
  t.equal((await get(`${server.url}/nope`)).status, 404)
  t.equal((await get(`${server.url}/metrics`, 'POST')).status, 405)
})

t.test('close ends kept-alive scrapers too', async (t) => {
  const server = await startOpsServer({ host: '127.0.0.1', port: 0, metrics: new Metrics({ processMetrics: false }), health: () => ({ ok: true }), logger: logSink().logger })
  const { Agent } = await import('node:http')
  const agent = new Agent({ keepAlive: true })
  await new Promise<void>((resolve, reject) => {
    request(`${server.url}/metrics`, { agent }, (res) => { res.resume(); res.on('end', resolve) }).on('error', reject).end()
  })
  await server.close()
  agent.destroy()
  t.pass('closed with a keep-alive connection open')
})

t.test('a port in use fails start-up', async (t) => {
  const first = await startOpsServer({ host: '127.0.0.1', port: 0, metrics: new Metrics({ processMetrics: false }), health: () => ({ ok: true }), logger: logSink().logger })
  t.teardown(() => first.close())
  await t.rejects(startOpsServer({ host: '127.0.0.1', port: first.port, metrics: new Metrics({ processMetrics: false }), health: () => ({ ok: true }), logger: logSink().logger }), { code: 'EADDRINUSE' })
})

t.test('ops config', async (t) => {
  t.same(opsSchema.parse({}), { http: { enabled: true, host: '127.0.0.1', port: 9464, allowRemote: false }, shutdownDeadlineSeconds: 30, processMetrics: true })
  t.throws(() => opsSchema.parse({ http: { host: '0.0.0.0' } }), /loopback/)
  t.equal(opsSchema.parse({ http: { host: '0.0.0.0', allowRemote: true } }).http.host, '0.0.0.0')
  t.throws(() => opsSchema.parse({ htpp: {} }), 'typos fail')
})

t.test('no timers, sockets or servers left behind', async (t) => {
  // Closed handles leave libuv's list a loop iteration or two after their close callbacks.
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(await leakedHandlesSettled(), [])
})
