import t from 'tap'
import { buildConfig } from '../../lib/config/load.ts'
import { validateConfig } from '../../lib/cli/validate.ts'

// Behind a trunk every call comes from the carrier: a per-source limit with nothing exempt
// would cap the whole business, so check says so (and a simulated call does not).
const base = { routes: { '+390212345678': { script: 'take-message' } }, media: { soundsDir: 'sounds' } }
const field = 'guard.rates.perSourceIpExempt'

t.test('no exempt range and no trunk ranges: check warns, naming the field and the limit', async (t) => {
  const { warnings } = await validateConfig(buildConfig(base, process.cwd()), { env: {}, typecheck: false })
  const w = warnings.find((x) => x.field === field)
  t.ok(w, 'warned')
  t.match(w?.message, /perSourceIpPerMinute \(10\)/)
})

t.test('an exempt range or the doctor trunk ranges silence it', async (t) => {
  for (const extra of [{ guard: { rates: { perSourceIpExempt: ['192.0.2.0/24'] } } }, { doctor: { trunkRanges: ['192.0.2.0/24'] } }]) {
    const { warnings } = await validateConfig(buildConfig({ ...base, ...extra }, process.cwd()), { env: {}, typecheck: false })
    t.notOk(warnings.some((x) => x.field === field), JSON.stringify(extra))
  }
})

t.test('a simulated call (phone-agent call / demo) is not warned about carrier traffic', async (t) => {
  const { warnings } = await validateConfig(buildConfig(base, process.cwd()), { env: {}, typecheck: false, simulated: true })
  t.notOk(warnings.some((x) => x.field === field))
})
