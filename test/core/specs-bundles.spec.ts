import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SPEC_SUFFIX, specsBeside } from '../helpers/specs.ts'

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

// tap runs only *.test.ts files: a spec in a folder without a specs.test.ts would never run.
t.test('every spec file is run by its folder\'s specs.test.ts', async (t) => {
  const specs = (await walk(testRoot)).filter((f) => f.endsWith(SPEC_SUFFIX))
  t.ok(specs.length > 50, `found the spec files (${specs.length})`)
  for (const folder of new Set(specs.map(dirname))) {
    const runner = join(folder, 'specs.test.ts')
    const text = await readFile(runner, 'utf8').catch(() => '')
    t.match(text, /runSpecs\(import\.meta\.url\)/, `${relative(testRoot, runner)} runs the folder's specs`)
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
