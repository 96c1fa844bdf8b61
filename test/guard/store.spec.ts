import t from 'tap'
import { createMemoryStore } from '../../lib/guard/store.ts'
import { ratesSchema } from '../../lib/guard/config.ts'
import { checkReserve } from './helpers.ts'

t.test('memory store: limiter expiry timers are cleared by close()', async (t) => {
  // rate-limiter-flexible schedules one unref'd timer per key; unref'd timers do not show in
  // process.getActiveResourcesInfo(), so count them at the source.
  const live = new Set<unknown>()
  const realSet = globalThis.setTimeout
  const realClear = globalThis.clearTimeout
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    const h = realSet(() => { live.delete(h); fn() }, ms)
    live.add(h)
    return h
  }) as typeof setTimeout
  globalThis.clearTimeout = ((h: Parameters<typeof clearTimeout>[0]) => { live.delete(h); realClear(h) }) as typeof clearTimeout
  t.teardown(() => {
    globalThis.setTimeout = realSet
    globalThis.clearTimeout = realClear
  })

  const store = createMemoryStore(ratesSchema.parse({}))
  // Ten callers, two calls each: within their own limits, so the global 5/s decides.
  for (let i = 0; i < 20; i++) t.equal(await store.consume(`+3902123456${10 + (i % 10)}`), i < 5 ? 'ok' : 'rate_global')
  t.ok(live.size > 0, `limiters scheduled expiry timers (${live.size})`)
  t.ok(await store.acquire('a', 1))
  t.notOk(await store.acquire('b', 1), 'second slot refused at max 1')
  t.ok(await store.acquire('a', 1), 'the same call asking again keeps its slot')
  await store.close()
  t.equal(live.size, 0, 'no timers left after close')
  t.equal(await store.active(), 0)
})

t.test('memory store: slots reserved for contacts, filled by contacts first; a source counted apart', async (t) => {
  const store = createMemoryStore(ratesSchema.parse({ perSourceIpPerMinute: 2, globalPerSecond: 100 }))
  t.teardown(() => store.close())
  await checkReserve(t, store)
  t.equal(await store.consume('+390212345601', '203.0.113.1'), 'ok')
  t.equal(await store.consume('+390212345602', '203.0.113.1'), 'ok')
  t.equal(await store.consume('+390212345603', '203.0.113.1'), 'rate_source_ip', 'third call from the address in a minute')
  t.equal(await store.consume('+390212345603', '203.0.113.2'), 'ok', 'the same number from another address, its first attempt')
  t.equal(await store.consume('+390212345604'), 'ok', 'no source, no source limit')
})
