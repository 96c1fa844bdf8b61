import t from 'tap'
import { toolDefinitions } from '../../lib/agent/tools.ts'
import { toolSetFor } from '../../lib/call/conversation/tool-sets.ts'

// Calls that offer the same tools share one set of definitions (they were ~1 KB a call): made
// from configuration only, they are what toolDefinitions gives for the context.

t.test('the same context gives the same set, equal to toolDefinitions', async (t) => {
  const a = toolSetFor({ targets: ['human', 'sales'], defaultCountry: 'IT' })
  const b = toolSetFor({ targets: ['human', 'sales'], defaultCountry: 'IT' })
  t.equal(b, a, 'one set for both calls')
  t.same(a.tools, toolDefinitions({ targets: ['human', 'sales'], defaultCountry: 'IT' }))
  t.same(a.context, { targets: ['human', 'sales'], defaultCountry: 'IT' })
})

t.test('targets, country, enabled tools and descriptions each make a set of their own', async (t) => {
  const base = { targets: ['human'], defaultCountry: 'IT' }
  const sets = [
    toolSetFor(base),
    toolSetFor({ ...base, targets: [] }),
    toolSetFor({ ...base, defaultCountry: 'DE' }),
    toolSetFor({ ...base, enabled: ['end_call'] }),
    toolSetFor({ ...base, targetDescriptions: { human: 'the front desk' } }),
  ]
  t.equal(new Set(sets).size, sets.length)
  t.match(sets[4]?.tools[0]?.function.description, /human: the front desk/)
  t.same(sets[3]?.tools.map((d) => d.function.name), ['end_call'])
})

t.test('a bounded number of sets: the oldest goes, and comes back equal when asked again', async (t) => {
  const first = toolSetFor({ targets: ['t-0'], defaultCountry: 'IT' })
  for (let i = 1; i <= 40; i++) toolSetFor({ targets: [`t-${i}`], defaultCountry: 'IT' })
  const again = toolSetFor({ targets: ['t-0'], defaultCountry: 'IT' })
  t.not(again, first, 'made anew')
  t.same(again.tools, first.tools)
})
