import t from 'tap'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Folders under lib/ run one way: each may import only folders below it (type-only imports
 * included). The order, top down: the CLI, the worker processes, the app, the config that composes every module's
 * schema, the surfaces built on calls, calls, what a call uses, speech and models, providers,
 * media and the wire, errors and the "did you mean" helper. A module that needs part of the
 * config takes a narrow type of its own (e.g. lib/call/config.ts `CallConfig`), never the
 * `Config` of lib/config; the config imports the modules' schemas, not the other way round.
 * A new import that goes up fails here, naming the file, and so do folders of one layer that
 * import each other.
 */
const LAYERS: ReadonlyArray<readonly string[]> = [
  ['cli'],
  ['cluster'],
  ['app.ts', 'index.ts'],
  ['config'],
  ['owner'],
  ['doctor', 'ops', 'simulator', 'scripts', 'console', 'notify', 'retention'],
  ['call'],
  ['agent', 'guard', 'records'],
  ['speech', 'llm', 'realtime'],
  ['providers'],
  ['media', 'numbers', 'freeswitch'],
  ['errors.ts', 'suggest.ts', 'lazy-package.ts'],
]

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

/** `from './x'` (static, type-only, re-export, over several lines), `import './x'` and `import('./x')`. */
const IMPORT = /(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]|import\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g

/** Edges `from -> to` between the top-level units of `root`, each with the first file that makes it. */
async function importEdges (root: string): Promise<Map<string, string>> {
  const unit = (path: string): string => relative(root, path).split('/')[0] ?? ''
  const edges = new Map<string, string>()
  for (const file of await sources(root)) {
    const text = await readFile(file, 'utf8')
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3] ?? ''
      const from = unit(file)
      const to = unit(normalize(join(dirname(file), spec)))
      const edge = `${from} -> ${to}`
      if (from !== to && !edges.has(edge)) edges.set(edge, relative(root, file))
    }
  }
  return edges
}

const layerOf = (u: string): number => LAYERS.findIndex((l) => l.includes(u))

/** The edges that go up the order, as `edge (file)`, sorted. */
function upward (edges: Map<string, string>): string[] {
  return [...edges].filter(([e]) => {
    const [from, to] = e.split(' -> ') as [string, string]
    return layerOf(to) < layerOf(from)
  }).map(([e, file]) => `${e} (${file})`).sort()
}

/**
 * Folders that reach themselves through imports (Tarjan's strongly connected components), each
 * sorted. Same-layer imports are allowed, a loop is not: it would make the order meaningless.
 */
function loops (edges: Map<string, string>): string[][] {
  const next = new Map<string, string[]>()
  for (const e of edges.keys()) {
    const [from, to] = e.split(' -> ') as [string, string]
    next.set(from, [...(next.get(from) ?? []), to])
  }
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const found: string[][] = []
  const visit = (v: string): void => {
    index.set(v, index.size)
    low.set(v, index.get(v) as number)
    stack.push(v)
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) visit(w)
      if (stack.includes(w)) low.set(v, Math.min(low.get(v) as number, low.get(w) as number))
    }
    if (low.get(v) !== index.get(v)) return
    const loop = stack.splice(stack.indexOf(v))
    if (loop.length > 1) found.push(loop.sort())
  }
  for (const v of next.keys()) if (!index.has(v)) visit(v)
  return found.sort()
}

t.test('the detector finds upward imports of every form in a small tree', async (t) => {
  const root = t.testdir({})
  const files: Record<string, string> = {
    'config/load.ts': "export interface Config { readonly x: number }\nimport { helper } from '../errors.ts'\n",
    // A type-only import over several lines: upward.
    'call/run.ts': "import type {\n  Config,\n} from '../config/load.ts'\nexport const run = (c: Config): number => c.x\n",
    // A dynamic import: upward.
    'media/late.ts': "export const late = async () => await import('../call/run.ts')\n",
    // A re-export: upward.
    'speech/types.ts': "export type { Config } from '../config/load.ts'\n",
    // An import for its side effects only: upward.
    'numbers/side.ts': "import '../call/other.ts'\n",
    // Downward and same-folder imports: allowed.
    'call/other.ts': "import { late } from '../media/late.ts'\nimport { run } from './run.ts'\n",
    'errors.ts': 'export const helper = 1\n',
  }
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true })
    await writeFile(join(root, path), text)
  }
  t.same(upward(await importEdges(root)), [
    'call -> config (call/run.ts)',
    'media -> call (media/late.ts)',
    'numbers -> call (numbers/side.ts)',
    'speech -> config (speech/types.ts)',
  ], 'every upward edge, and only those')
  t.same(loops(await importEdges(root)), [['call', 'media']], 'and the loop they make')
})

t.test('every folder of lib/ has a place in the order', async (t) => {
  const units = new Set((await sources(lib)).map((p) => relative(lib, p).split('/')[0] ?? ''))
  for (const u of units) t.ok(layerOf(u) >= 0, `${u} is in LAYERS`)
})

t.test('no folder of lib/ imports one above it', async (t) => {
  const edges = await importEdges(lib)
  t.ok(edges.has('call -> media') && edges.has('config -> call'), 'the real graph is read (known downward edges are found)')
  t.same(upward(edges), [], 'no upward import')
  t.same(loops(edges), [], 'no folders that import each other, even within a layer')
})
