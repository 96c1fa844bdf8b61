import t from 'tap'
import { callerAllowPrefixes, guardSchema } from '../../lib/guard/config.ts'
import { configSchema } from '../../lib/config/schema.ts'
import { buildConfig } from '../../lib/config/load.ts'

t.test('defaults are the safe ones', async (t) => {
  const g = configSchema.parse({}).guard
  t.same(g.callers, { rejectAnonymous: true, blockPrefixes: [] }, 'no caller list in the schema: it comes from the home country')
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

t.test('the caller allowlist defaults to the home country, not to four European ones', async (t) => {
  t.same(buildConfig({ numbers: { defaultCountry: 'US' } }, '/x').guard.callers.allowPrefixes, ['+1'])
  t.same(buildConfig({ numbers: { defaultCountry: 'IT' } }, '/x').guard.callers.allowPrefixes, ['+39'])
  t.same(buildConfig({}, '/x').guard.callers.allowPrefixes, ['+39'], 'IT is the default country')
  t.same(buildConfig({ numbers: { defaultCountry: 'US' }, guard: { callers: { allowPrefixes: ['+1', '+44'] } } }, '/x').guard.callers.allowPrefixes,
    ['+1', '+44'], 'an explicit list wins')
  t.same(callerAllowPrefixes(guardSchema.parse({}), 'de'), ['+49'], 'the guard alone resolves it the same way')
})
