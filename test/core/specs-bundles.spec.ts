import t from 'tap'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { SharedSpecQueue, sharedQueueDir } from '../helpers/spec-queue.ts'
import { allSpecs, runnerNames, specName, specsFor, specsLongestFirst, TEST_ROOT } from '../helpers/specs.ts'

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

t.test('runners sharing a queue get every spec once, longest first, whoever asks', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-spec-queue-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const specs = await specsLongestFirst()
  t.same([...specs].sort(), await allSpecs(), 'the list holds every spec')
  const { DEFAULT_SPEC_SECONDS, SPEC_SECONDS } = await import('../helpers/spec-weights.ts')
  const seconds = specs.map((f) => SPEC_SECONDS[specName(f)] ?? DEFAULT_SPEC_SECONDS)
  t.ok(seconds.every((s, i) => i === 0 || s <= (seconds[i - 1] ?? 0)), 'longest first')
  // Three runners (each with its own queue object on the one folder, as in three processes)
  // asking in an uneven order.
  const runners = [new SharedSpecQueue(dir, specs), new SharedSpecQueue(dir, specs), new SharedSpecQueue(dir, specs)]
  const got: string[][] = [[], [], []]
  const order: string[] = []
  for (let turn = 0; order.length < specs.length; turn++) {
    const r = turn % 5 === 0 ? 2 : turn % 2
    const file = runners[r]!.claim()
    if (file === undefined) continue
    got[r]!.push(file)
    order.push(file)
  }
  t.same(order, specs, 'handed out in the list\'s order')
  t.same(got.flat().sort(), [...specs].sort(), 'each spec to exactly one runner')
  t.ok(got.every((g) => g.length > 0), 'every runner got some')
  t.equal(runners[0]!.claim(), undefined, 'then nothing is left')
  t.equal(new SharedSpecQueue(dir, specs).claim(), undefined, 'also for a runner that starts late')
})

t.test('a run\'s queue folder is named by the process that started the runners', async (t) => {
  const dir = sharedQueueDir()
  t.ok(dir !== undefined, 'this Linux machine has /proc')
  t.match(dir, new RegExp(`phone-agent-specs-[^/]+/${process.ppid}-\\d+$`), 'the parent\'s pid and start time')
  t.equal(sharedQueueDir(), dir, 'the same for every call in this run')
})
