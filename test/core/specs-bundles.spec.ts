import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { basename, dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { SHARED_RUNNERS } from '../helpers/spec-groups.ts'
import { RUNNER_NAME, SPEC_SUFFIX, specsBeside, specsFor } from '../helpers/specs.ts'

const testRoot = join(dirname(fileURLToPath(import.meta.url)), '..')

async function walk (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue
    const p = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...await walk(p))
    else out.push(p)
  }
  return out
}

// tap runs only *.test.ts files: a spec in a folder without a runner would never run.
t.test('every spec file is run by exactly one runner: its folder\'s, or a shared one', async (t) => {
  const files = await walk(testRoot)
  const specs = files.filter((f) => f.endsWith(SPEC_SUFFIX))
  t.ok(specs.length > 50, `found the spec files (${specs.length})`)
  for (const shared of Object.keys(SHARED_RUNNERS)) t.ok(files.includes(join(testRoot, shared)), `test/${shared} exists`)
  for (const folder of new Set(specs.map(dirname))) {
    const name = relative(testRoot, folder)
    const own = files.filter((f) => dirname(f) === folder && RUNNER_NAME.test(basename(f))).sort()
    const shared = Object.entries(SHARED_RUNNERS).filter(([, folders]) => folders.includes(name)).map(([runner]) => join(testRoot, runner))
    const runners = [...own, ...shared]
    const whole = own.some((r) => basename(r) === 'specs.test.ts')
    t.ok(runners.length > 0 && (shared.length === 0 || (shared.length === 1 && own.length === 0)) && (!whole || own.length === 1),
      `${name}: specs.test.ts alone, specs-1 ... specs-N, or one shared runner (${runners.map((r) => relative(testRoot, r)).join(', ')})`)
    if (own.length > 0 && !whole) t.same(own.map((r) => basename(r)), own.map((_, i) => `specs-${i + 1}.test.ts`), `${name}: shares numbered from 1 with no gap`)
    for (const runner of runners) t.match(await readFile(runner, 'utf8'), /runSpecs\(import\.meta\.url\)/, `${relative(testRoot, runner)} runs its specs`)
    const ran = (await Promise.all(runners.map(async (r) => await specsFor(pathToFileURL(r).href)))).flat().filter((f) => dirname(f) === folder)
    t.same(ran.sort(), specs.filter((f) => dirname(f) === folder).sort(), `${name}: each spec runs once`)
  }
})

t.test('a folder\'s specs are found in name order, and only specs', async (t) => {
  const here = await specsBeside(import.meta.url)
  t.ok(here.includes(fileURLToPath(import.meta.url)), 'this spec is among them')
  t.same(here, [...here].sort(), 'name order')
  t.ok(here.every((f) => f.endsWith(SPEC_SUFFIX)), 'no other files')
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
  const specs = new Set((await walk(testRoot)).filter((f) => f.endsWith(SPEC_SUFFIX)).map((f) => relative(testRoot, f)))
  for (const name of Object.keys(SPEC_SECONDS)) t.ok(specs.has(name), `${name} exists`)
})
