import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Folders under lib/ run one way: each may import only folders below it. The order, top down:
 * the CLI, the app, the config that composes every module's schema, the surfaces built on calls,
 * calls, what a call uses, speech and models, providers, media and the wire, errors.
 * A new import that goes up fails here. The edges listed in KNOWN_UPWARD are existing debt
 * (modules that still import the Config type, or a helper from above); remove an entry when
 * its edge is gone (the test says so).
 */
const LAYERS: ReadonlyArray<readonly string[]> = [
  ['cli'],
  ['app.ts', 'index.ts'],
  ['config'],
  ['owner'],
  ['doctor', 'ops', 'simulator', 'scripts', 'console', 'notify', 'retention'],
  ['call'],
  ['agent', 'guard', 'records'],
  ['speech', 'llm', 'realtime'],
  ['providers'],
  ['media', 'numbers', 'freeswitch'],
  ['errors.ts'],
]

const KNOWN_UPWARD = new Set([
  'agent -> config', 'call -> config', 'guard -> config', 'speech -> config', 'simulator -> config',
  'speech -> call', 'media -> speech', 'providers -> speech',
])

const lib = join(dirname(fileURLToPath(import.meta.url)), '../../lib')

async function sources (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...await sources(p))
    else if (/\.(ts|mjs)$/.test(entry.name)) out.push(p)
  }
  return out
}

const unit = (path: string): string => relative(lib, path).split('/')[0] ?? ''
const layerOf = (u: string): number => LAYERS.findIndex((l) => l.includes(u))

t.test('every folder of lib/ has a place in the order', async (t) => {
  const units = new Set((await sources(lib)).map(unit))
  for (const u of units) t.ok(layerOf(u) >= 0, `${u} is in LAYERS`)
})

t.test('no folder imports one above it (beyond the known debt)', async (t) => {
  const edges = new Set<string>()
  for (const file of await sources(lib)) {
    const text = await readFile(file, 'utf8')
    for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
      const spec = m[1] ?? m[2] ?? ''
      const from = unit(file)
      const to = unit(normalize(join(dirname(file), spec)))
      if (from !== to) edges.add(`${from} -> ${to}`)
    }
  }
  const upward = [...edges].filter((e) => {
    const [from, to] = e.split(' -> ') as [string, string]
    return layerOf(to) < layerOf(from)
  })
  t.same(upward.filter((e) => !KNOWN_UPWARD.has(e)).sort(), [], 'no new upward import')
  t.same([...KNOWN_UPWARD].filter((e) => !edges.has(e) || !upward.includes(e)).sort(), [], 'debt that is gone is taken off KNOWN_UPWARD')
})
