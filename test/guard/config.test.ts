import t from 'tap'
import { guardSchema } from '../../lib/guard/config.ts'
import { configSchema } from '../../lib/config/schema.ts'

t.test('defaults are the safe ones', async (t) => {
  const g = configSchema.parse({}).guard
  t.same(g.callers, { rejectAnonymous: true, allowPrefixes: ['+39', '+43', '+49', '+41'], blockPrefixes: [] })
  t.equal(g.rejectUnknownDid, true)
  t.same(g.store, { type: 'memory' })
  t.same(g.outbound.allowPrefixes, ['+39', '+43', '+49', '+41'])
  t.match(g.rates, { perCallerPerMinute: Number, perCallerPerHour: Number, globalPerSecond: Number })
  t.equal(g.capacity.whenFull, 'busy-message')
})

t.test('partial sections keep the other defaults', async (t) => {
  const g = guardSchema.parse({ rates: { perCallerPerMinute: 1 }, store: { type: 'redis', url: 'redis://127.0.0.1:6379' } })
  t.equal(g.rates.perCallerPerMinute, 1)
  t.equal(g.rates.perCallerPerHour, 20)
  t.same(g.store, { type: 'redis', url: 'redis://127.0.0.1:6379', keyPrefix: 'phone-agent:guard' })
})

t.test('mistakes fail with the field', async (t) => {
  for (const bad of [
    { callers: { allowPrefixes: ['39'] } },
    { callers: { allowPrefixes: [] } },
    { outbound: { blockPrefixes: ['+39 899'] } },
    { rates: { globalPerSecond: 0 } },
    { capacity: { whenFull: 'ring' } },
    { hangupCauses: { rejected: 'NOPE' } },
    { store: { type: 'redis', url: 'http://x' } },
    { callers: { rejectAnonymus: false } },
  ]) {
    t.notOk(guardSchema.safeParse(bad).success, JSON.stringify(bad))
  }
})
