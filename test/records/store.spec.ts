import t from 'tap'
import { openSqliteDriver } from '../../lib/records/sqlite-driver.ts'
import type { SqlDriver, Statement } from '../../lib/records/sql.ts'
import { openSqlCallStore, type SqlCallStoreOptions } from '../../lib/records/store.ts'
import type { CallObserver, CallOutcome } from '../../lib/records/types.ts'
import { logSink, leakedHandlesSettled } from './helpers.ts'

/** An in-memory SQLite driver whose transactions can be watched, failed or held. */
function watched (hook: (statements: readonly Statement[]) => Promise<void> | void = () => {}): SqlDriver & { transactions: number } {
  const inner = openSqliteDriver(':memory:')
  const driver = {
    ...inner,
    transactions: 0,
    async transaction (statements: readonly Statement[]) {
      driver.transactions++
      await hook(statements)
      await inner.transaction(statements)
    },
  }
  return driver
}

function countingObserver (): CallObserver & { counts: Record<string, number>, outcomes: CallOutcome[] } {
  const counts: Record<string, number> = {}
  const outcomes: CallOutcome[] = []
  const bump = (k: string) => () => { counts[k] = (counts[k] ?? 0) + 1 }
  return {
    counts,
    outcomes,
    callStarted: bump('started'),
    callEnded: (o) => { outcomes.push(o) },
    admissionRejected: bump('rejected'),
    turnLatency: bump('latency'),
    callError: bump('error'),
    recordWriteFailed: bump('writeFailed'),
  }
}

async function open (driver: SqlDriver, extra: Partial<SqlCallStoreOptions> = {}) {
  const sink = logSink()
  const store = await openSqlCallStore({ driver, instance: 'test', logger: sink.logger, ...extra })
  return { store, lines: sink.lines }
}

const connRefused = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })

t.test('writes from one event-loop turn share one transaction', async (t) => {
  const driver = watched()
  const { store } = await open(driver)
  t.teardown(() => store.close())
  const before = driver.transactions
  for (let i = 0; i < 50; i++) {
    const rec = store.begin({ uuid: `b-${i}`, did: '+391' })
    rec.turn({ role: 'caller', text: 'hi' })
    rec.usage({ ttsCharacters: 2 })
  }
  await store.flush()
  t.equal(driver.transactions - before, 1, '150 writes, one transaction')
  t.equal((await store.list({ limit: 100 })).length, 50)
})

t.test('one bad write does not take the batch with it', async (t) => {
  const driver = watched((statements) => {
    if (statements.some((s) => s.params.includes('poison'))) throw new Error('constraint failed')
  })
  const observer = countingObserver()
  const { store, lines } = await open(driver, { observer })
  t.teardown(() => store.close())
  const rec = store.begin({ uuid: 'p-1', did: '+391' })
  rec.turn({ role: 'caller', text: 'before' })
  rec.turn({ role: 'caller', text: 'poison' })
  rec.turn({ role: 'caller', text: 'after' })
  await rec.end({ outcome: 'completed' })
  const call = await store.get('p-1')
  t.same(call?.turns.map((x) => x.text), ['before', 'after'])
  t.equal(call?.outcome, 'completed')
  t.match(lines.find((l) => l.msg === 'call record write failed'), { level: 50, call: 'p-1', kind: 'turn', err: { message: 'constraint failed' } })
  t.equal(observer.counts.writeFailed, 1)
})

t.test('a database that is briefly unreachable loses nothing', async (t) => {
  let failures = 2
  const driver = watched(() => { if (failures-- > 0) throw connRefused() })
  driver.isConnectionError = (err) => (err as { code?: string }).code === 'ECONNREFUSED'
  const { store, lines } = await open(driver)
  t.teardown(() => store.close())
  const rec = store.begin({ uuid: 'o-1', did: '+391' })
  rec.turn({ role: 'caller', text: 'still here' })
  await rec.end({ outcome: 'completed' })
  t.same((await store.get('o-1'))?.turns.map((x) => x.text), ['still here'])
  t.equal(lines.filter((l) => l.msg === 'call record storage unreachable; retrying').length, 1, 'warned once, not per retry')
  t.match(lines.find((l) => l.msg === 'call record storage reachable again'), { attempts: 3 })
})

t.test('close while the database is down gives up and resolves', async (t) => {
  const driver = watched(() => { throw connRefused() })
  driver.isConnectionError = () => true
  const observer = countingObserver()
  const { store, lines } = await open(driver, { observer })
  const rec = store.begin({ uuid: 'd-1', did: '+391' })
  const ended = rec.end({ outcome: 'completed' })
  await new Promise((resolve) => setTimeout(resolve, 50))
  await store.close()
  await ended
  t.equal(lines.filter((l) => l.msg === 'call record write failed').length, 2, 'both writes logged as lost')
  t.equal(observer.counts.writeFailed, 2)
  const late = store.begin({ uuid: 'd-2', did: '+391' })
  await late.end({ outcome: 'completed' })
  t.ok(lines.some((l) => l.msg === 'call record write after store close dropped'), 'writes after close are dropped, not thrown')
})

t.test('a full queue drops new writes instead of growing without bound', async (t) => {
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  let hold = false
  const driver = watched(async () => { if (hold) await held })
  const observer = countingObserver()
  const { store, lines } = await open(driver, { observer, maxQueuedWrites: 5 })
  t.teardown(() => store.close())
  hold = true
  const first = store.begin({ uuid: 'q-0', did: '+391' })
  await new Promise((resolve) => setImmediate(resolve))
  for (let i = 0; i < 10; i++) first.turn({ role: 'caller', text: `t${i}` })
  t.equal(observer.counts.writeFailed, 5, 'five over the bound')
  t.equal(lines.filter((l) => l.msg === 'call record queue full; writes dropped').length, 1, 'logged once per thousand')
  hold = false
  release()
  await store.flush()
  t.equal((await store.get('q-0'))?.turns.length, 5)
})

t.test('misuse is logged and ignored, never thrown into the call', async (t) => {
  const observer = countingObserver()
  observer.turnLatency = () => { throw new Error('metrics broke') }
  const { store, lines } = await open(watched(), { observer })
  t.teardown(() => store.close())
  const rec = store.begin({ uuid: 'm-1', did: '+391' })
  rec.latency({ turn: 1, speechEndAt: 1 })
  rec.latency({ turn: 1.5 })
  await rec.end({ outcome: 'bogus' as CallOutcome })
  await rec.end({ outcome: 'completed' })
  rec.turn({ role: 'caller', text: 'too late' })
  const call = await store.get('m-1')
  t.equal(call?.outcome, 'failed', 'an unknown outcome is recorded as failed')
  t.equal(call?.latency.length, 1, 'the observer failure did not stop the write')
  t.same(call?.turns, [])
  t.same(observer.outcomes, ['failed'])
  for (const msg of ['call observer threw', 'latency report without an integer turn dropped', 'unknown call outcome recorded as failed',
    'call record already ended; second end ignored', 'call record already ended; write ignored']) {
    t.match(lines.find((l) => l.msg === msg), { level: 40, call: 'm-1' }, msg)
  }
})

t.test('flush with nothing queued resolves at once and close is idempotent', async (t) => {
  const { store } = await open(watched())
  await store.flush()
  await store.close()
  await store.close()
  t.pass('no hang')
})

t.test('no timers, sockets or servers left behind', async (t) => {
  // Closed handles leave libuv's list a loop iteration or two after their close callbacks.
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(await leakedHandlesSettled(), [])
})
