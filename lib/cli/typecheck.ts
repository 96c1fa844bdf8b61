import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ConfigProblem } from '../config/problems.ts'

/**
 * Type-checks call scripts with the TypeScript compiler API, so `call.sya('hi')` fails in
 * `phone-agent check` instead of mid-call (tsx strips types without checking them).
 *
 * TypeScript 7's API (`typescript/unstable/sync`) drives the native compiler in a child process;
 * typecheck-worker.mjs runs it in one of ours, so the compiler's own stderr stays out of our
 * output. The project is virtual: a tsconfig served through the API's file-system callbacks, so
 * nothing is written next to the user's scripts. Scripts are checked as ES modules with bundler
 * resolution, which is how they are loaded (lib/call/script-hooks.mjs), and `phone-agent` maps
 * to this package's own entry point wherever the script lives.
 */

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const ENTRY = join(PACKAGE_ROOT, 'lib', 'index.ts')
const WORKER = fileURLToPath(new URL('./typecheck-worker.mjs', import.meta.url))
/** Enough to act on; the rest are usually consequences of the first ones. */
const MAX_PER_SCRIPT = 10
/** The compiler starts, reads this package's types and checks a few files: seconds, not minutes. */
const TIMEOUT_MS = 120_000
const ERROR = 1

export interface ScriptFile {
  /** The script's name in the config (`scripts.NAME`). */
  readonly name: string
  readonly path: string
}

export type TypecheckResult =
  | { readonly checked: true, readonly problems: ConfigProblem[] }
  | { readonly checked: false, readonly reason: string }

interface Diagnostic {
  readonly fileName?: string | undefined
  readonly pos: number
  readonly code: number
  readonly category: number
  readonly text: string
}

/**
 * Checks under way, by what they check: `check`, `serve` and `call` started together on one
 * config (as a test of the one validation path does) share one compiler run. Nothing is kept
 * once a run ends, so an edited script is always checked afresh.
 */
const running = new Map<string, Promise<TypecheckResult>>()

/** `root`: file names in messages are shown relative to it (the config's directory). */
export async function typecheckScripts (scripts: readonly ScriptFile[], root = dirname(scripts[0]?.path ?? '.')): Promise<TypecheckResult> {
  if (scripts.length === 0) return { checked: true, problems: [] }
  const key = JSON.stringify([root, scripts])
  let run = running.get(key)
  if (run === undefined) {
    run = typecheckNow(scripts, root).finally(() => { running.delete(key) })
    running.set(key, run)
  }
  const result = await run
  // Each caller gets its own list: one that adds to it must not change another's.
  return result.checked ? { checked: true, problems: [...result.problems] } : result
}

async function typecheckNow (scripts: readonly ScriptFile[], root: string): Promise<TypecheckResult> {
  const configPath = join(root, '.phone-agent-typecheck', 'tsconfig.json')
  const input = {
    root,
    configPath,
    tsconfig: JSON.stringify({ compilerOptions: compilerOptions(), files: scripts.map((s) => s.path) }),
    // The scripts and whatever of the user's own they import; not this package.
    exclude: [join(PACKAGE_ROOT, 'lib')],
  }
  let output: { unavailable?: string, diagnostics?: Diagnostic[] }
  try {
    output = JSON.parse(await runWorker(JSON.stringify(input))) as typeof output
  } catch (err) {
    return { checked: false, reason: `the TypeScript compiler failed: ${(err as Error).message}` }
  }
  if (output.unavailable !== undefined) return { checked: false, reason: output.unavailable }
  const counts = new Map<string, number>()
  const problems: ConfigProblem[] = []
  for (const d of output.diagnostics ?? []) {
    if (d.category !== ERROR) continue
    // A helper module the scripts import is reported under the first script's name.
    const field = `scripts.${(scripts.find((s) => s.path === d.fileName) ?? scripts[0]!).name}.module`
    const count = counts.get(field) ?? 0
    if (count >= MAX_PER_SCRIPT) continue
    counts.set(field, count + 1)
    const at = d.fileName === undefined ? '' : ` at ${where(d.fileName, d.pos, root)}`
    problems.push({ field, message: `type error${at}: ${d.text} (TS${d.code})` })
  }
  return { checked: true, problems: dedupe(problems) }
}

function runWorker (input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // No inherited NODE_OPTIONS or loaders: the worker is plain JavaScript.
    const child = spawn(process.execPath, [WORKER], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' }, timeout: TIMEOUT_MS })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0 && out !== '') resolve(out)
      else reject(new Error(err.trim().split('\n').at(-1) ?? `exit code ${String(code)}`))
    })
    child.stdin.end(input)
  })
}

/**
 * As strict as this package's own tsconfig, so a script that passes here also passes
 * `npm run typecheck` in a project made by `phone-agent init`.
 */
function compilerOptions (): Record<string, unknown> {
  const types = join(PACKAGE_ROOT, 'node_modules', '@types')
  const hasNodeTypes = existsSync(join(types, 'node'))
  return {
    target: 'ES2022',
    module: 'preserve',
    moduleResolution: 'bundler',
    lib: ['ES2023'],
    strict: true,
    noUncheckedIndexedAccess: true,
    noImplicitOverride: true,
    noEmit: true,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    resolveJsonModule: true,
    paths: { 'phone-agent': [ENTRY] },
    ...(hasNodeTypes ? { typeRoots: [types], types: ['node'] } : { types: [] }),
  }
}

/** `scripts/hello.ts:3:14` from a character offset. */
function where (file: string, pos: number, root: string): string {
  let text = ''
  try { text = readFileSync(file, 'utf8') } catch {}
  const before = text.slice(0, pos)
  const line = before.split('\n').length
  const column = pos - before.lastIndexOf('\n')
  const shown = relative(root, file)
  return `${shown.startsWith('..') ? file : shown}:${line}:${column}`
}

function dedupe (problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>()
  return problems.filter((p) => { const k = `${p.field}\n${p.message}`; if (seen.has(k)) return false; seen.add(k); return true })
}
