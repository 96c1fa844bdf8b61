import t from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { Redis } from 'ioredis'
import pino from 'pino'
import { createRedisStore } from '../../lib/guard/store.ts'
import { createAdmissionGuard } from '../../lib/guard/admission.ts'
import { guardSchema, ratesSchema } from '../../lib/guard/config.ts'
import { checkReserve } from './helpers.ts'

// Several instances sharing one Redis. Runs only where a redis-server binary exists
// (Debian/Ubuntu: apt-get install redis-server); it starts its own on a free loopback port.

const hasRedis = spawnSync('redis-server', ['--version']).status === 0

async function freePort (): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const port = (srv.address() as { port: number }).port
  srv.close()
  await once(srv, 'close')
  return port
}

async function startRedis (): Promise<{ proc: ChildProcess, url: string }> {
  const port = await freePort()
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  const url = `redis://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    probe.on('error', () => {})
    try {
      await probe.connect()
      await probe.ping()
      probe.disconnect()
      return { proc, url }
    } catch {
      probe.disconnect()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  proc.kill()
  throw new Error('redis-server did not start')
}

t.test('redis store shared by two instances', { skip: hasRedis ? false : 'redis-server not installed (apt-get install redis-server)' }, async (t) => {
  const { proc, url } = await startRedis()
  t.teardown(async () => {
    if (proc.exitCode === null) {
      proc.kill('SIGTERM')
      await once(proc, 'exit')
    }
  })
  const logger = pino({ level: 'silent' })
  const rates = ratesSchema.parse({ perCallerPerMinute: 2, globalPerSecond: 100, perSourceIpPerMinute: 2 })
  let clock = Date.parse('2026-01-10T10:00:00Z')
  const keyPrefix = `test${process.pid}`
  // Connected clients passed in, as two instances would hold them (no offline queue: a command
  // sent before the connection is up goes to the in-memory fallback instead).
  const clients = [0, 1].map(() => new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true }))
  for (const c of clients) {
    c.on('error', () => {})
    await c.connect()
  }
  t.teardown(() => { for (const c of clients) c.disconnect() })
  const a = createRedisStore({ rates, client: clients[0], keyPrefix, slotTtlSeconds: 60, logger, now: () => clock })
  const b = createRedisStore({ rates, client: clients[1], keyPrefix, slotTtlSeconds: 60, logger, now: () => clock })
  t.teardown(async () => { await a.close(); await b.close() })

  await t.test('per-caller limits are shared', async (t) => {
    t.equal(await a.consume('+390212345678'), 'ok')
    t.equal(await b.consume('+390212345678'), 'ok')
    t.equal(await a.consume('+390212345678'), 'rate_caller_minute', 'the third call is refused whichever instance takes it')
    t.equal(await b.consume('+390212345678'), 'rate_caller_minute')
  })

  await t.test('concurrency slots are shared and heal after a dead instance', async (t) => {
    t.ok(await a.acquire('call-1', 2))
    t.ok(await b.acquire('call-2', 2))
    t.notOk(await a.acquire('call-3', 2), 'both slots taken across instances')
    t.equal(await b.active(), 2)
    await a.release('call-1')
    t.ok(await b.acquire('call-3', 2), 'a released slot is free for the other instance')
    // Instance b "dies" holding call-2 and call-3: their slots expire after slotTtlSeconds.
    clock += 61_000
    t.equal(await a.active(), 0)
    t.ok(await a.acquire('call-4', 2))
    await a.release('call-4')
  })

  await t.test('reserved slots and per-source limits are shared', async (t) => {
    await checkReserve(t, a)
    t.ok(await a.acquire('r1', 2, { reserved: 1, contact: true }))
    t.ok(await b.acquire('r2', 2, { reserved: 1, contact: false }), 'the other instance sees the contact in the reserve')
    t.notOk(await b.acquire('r3', 2, { reserved: 1, contact: true }))
    await a.release('r1')
    await b.release('r2')
    t.equal(await a.consume('+390212345611', '203.0.113.1'), 'ok')
    t.equal(await b.consume('+390212345612', '203.0.113.1'), 'ok')
    t.equal(await a.consume('+390212345613', '203.0.113.1'), 'rate_source_ip', 'the third from one address, whichever instance')
  })

  await t.test('admission guard on redis', async (t) => {
    const config = guardSchema.parse({ store: { type: 'redis', url, keyPrefix: `${keyPrefix}g` }, rates: { perCallerPerMinute: 1 } })
    const guard = createAdmissionGuard(config, { defaultCountry: 'IT', servedDids: () => true, logger })
    t.teardown(() => guard.close())
    let v = await guard.admit({ uuid: 'x1', callerNumber: '3331234567', did: '+390212345600' })
    for (let i = 0; i < 50 && !v.admitted; i++) {
      // The guard's own client may still be connecting; the insurance limiter answered meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 20))
      v = await guard.admit({ uuid: `x1-${i}`, callerNumber: `33312345${10 + i}`, did: '+390212345600' })
    }
    t.ok(v.admitted)
    if (v.admitted) v.release()
  })

  await t.test('redis gone: answers come from memory instead of hanging', async (t) => {
    proc.kill('SIGTERM')
    await once(proc, 'exit')
    const started = Date.now()
    t.equal(await a.consume('+390299999999'), 'ok', 'insurance limiter')
    t.ok(await a.acquire('call-9', 2), 'local slot')
    await a.release('call-9')
    t.ok(Date.now() - started < 30_000, 'did not wait for redis to come back')
  })
})
