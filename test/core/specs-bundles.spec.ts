import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { allSpecs, runnerNames, specName, specsFor, TEST_ROOT } from '../helpers/specs.ts'

// tap runs only *.test.ts files: a spec no runner is dealt would never run.
t.test('every spec file is run by exactly one runner', async (t) => {
  const specs = await allSpecs()
  t.ok(specs.length > 100, `found the spec files (${specs.length})`)
  t.ok(specs.every((f) => !f.includes('/fixtures/')), 'none among the fixtures')
  const runners = await runnerNames()
  t.same(runners, runners.map((_, i) => `specs-${String(i + 1).padStart(2, '0')}.test.ts`), 'runners numbered from 01 with no gap')
  const shares = await Promise.all(runners.map(async (r) => await specsFor(pathToFileURL(join(TEST_ROOT, r)).href)))
  for (const [i, share] of shares.entries()) {
    t.ok(share.length > 0, `${runners[i]} runs some specs`)
    t.match(await readFile(join(TEST_ROOT, runners[i] ?? ''), 'utf8'), /runSpecs\(import\.meta\.url\)/, `${runners[i]} runs its share`)
  }
  t.same(shares.flat().sort(), specs, 'each spec once')
})

t.test('a file that is not a runner is dealt nothing: it is refused', async (t) => {
  await t.rejects(specsFor(pathToFileURL(join(TEST_ROOT, 'core', 'specs-bundles.spec.ts')).href), /not a runner/)
})

t.test('the runners are balanced by the measured seconds', async (t) => {
  const { DEFAULT_SPEC_SECONDS, SPEC_SECONDS } = await import('../helpers/spec-weights.ts')
  const runners = await runnerNames()
  const seconds = await Promise.all(runners.map(async (r) => (await specsFor(pathToFileURL(join(TEST_ROOT, r)).href))
    .reduce((sum, f) => sum + (SPEC_SECONDS[specName(f)] ?? DEFAULT_SPEC_SECONDS), 0)))
  const longestSpec = Math.max(...Object.values(SPEC_SECONDS))
  // Longest first to the least loaded: no runner exceeds the least loaded by more than one spec.
  t.ok(Math.max(...seconds) - Math.min(...seconds) <= longestSpec, `runner seconds ${seconds.map((s) => s.toFixed(0)).join(', ')}`)
})

t.test('a leak check in a shared process counts only what the spec itself left', async (t) => {
  const { beyondBaseline, specBaseline } = await import('../helpers/specs.ts')
  const before = [...specBaseline()]
  t.same(beyondBaseline([...before, 'Timeout', 'TCPSocketWrap']).sort(), ['TCPSocketWrap', 'Timeout'], 'what is new is reported')
  t.same(beyondBaseline(before), [], 'what was there before is not')
  t.same(beyondBaseline([]), [], 'and nothing is nothing')
})

t.test('every measured spec weight names a spec that exists', async (t) => {
  const { SPEC_SECONDS } = await import('../helpers/spec-weights.ts')
  const specs = new Set((await allSpecs()).map(specName))
  for (const name of Object.keys(SPEC_SECONDS)) t.ok(specs.has(name), `${name} exists`)
})
