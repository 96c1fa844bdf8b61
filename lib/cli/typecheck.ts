import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ConfigProblem } from '../config/problems.ts'

/**
 * Type-checks call scripts with the TypeScript compiler API, so `call.sya('hi')` fails in
 * `phone-agent check` instead of mid-call (tsx strips types without checking them).
 *
 * TypeScript 7's API (`typescript/unstable/sync`) drives the native compiler in a child process.
 * The project is virtual: a tsconfig served through the API's file-system callbacks, so nothing
 * is written next to the user's scripts. Scripts are checked as ES modules with bundler
 * resolution, which is how they are loaded (lib/call/script-hooks.mjs), and `phone-agent` maps
 * to this package's own entry point wherever the script lives.
 */

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const ENTRY = join(PACKAGE_ROOT, 'lib', 'index.ts')
/** Enough to act on; the rest are usually consequences of the first ones. */
const MAX_PER_SCRIPT = 10

export interface ScriptFile {
  /** The script's name in the config (`scripts.NAME`). */
  readonly name: string
  readonly path: string
}

export type TypecheckResult =
  | { readonly checked: true, readonly problems: ConfigProblem[] }
  | { readonly checked: false, readonly reason: string }

interface SyncApi {
  updateSnapshot (params: { openProjects: string[] }): { getProjects (): Array<{ program: Program }>, dispose (): void }
  close (): void
}
interface Program {
  getSourceFileNames (): readonly string[]
  getSyntacticDiagnostics (file: string): readonly Diagnostic[]
  getSemanticDiagnostics (file: string): readonly Diagnostic[]
  getProgramDiagnostics (): readonly Diagnostic[]
}
interface Diagnostic {
  readonly fileName?: string | undefined
  readonly pos: number
  readonly code: number
  readonly category: number
  readonly text: string
}
const ERROR = 1

export async function typecheckScripts (scripts: readonly ScriptFile[]): Promise<TypecheckResult> {
  if (scripts.length === 0) return { checked: true, problems: [] }
  let API: new (options: Record<string, unknown>) => SyncApi
  try {
    ;({ API } = await import('typescript/unstable/sync') as unknown as { API: typeof API })
  } catch {
    return { checked: false, reason: 'the typescript package is not installed (npm install --save-dev typescript)' }
  }
  const root = dirname(scripts[0]!.path)
  const configPath = join(root, '.phone-agent-typecheck', 'tsconfig.json')
  const tsconfig = JSON.stringify({ compilerOptions: compilerOptions(), files: scripts.map((s) => s.path) })
  let api: SyncApi | undefined
  try {
    api = new API({
      cwd: root,
      fs: {
        readFile: (file: string) => file === configPath ? tsconfig : undefined,
        fileExists: (file: string) => file === configPath ? true : undefined,
        directoryExists: (dir: string) => dir === dirname(configPath) ? true : undefined,
      },
    })
    const snapshot = api.updateSnapshot({ openProjects: [configPath] })
    const program = snapshot.getProjects()[0]?.program
    if (program === undefined) return { checked: false, reason: 'the TypeScript compiler opened no project' }
    const problems: ConfigProblem[] = []
    for (const d of program.getProgramDiagnostics()) {
      if (d.category === ERROR) problems.push({ field: `scripts.${scripts[0]!.name}.module`, message: `TypeScript: ${d.text} (TS${d.code})` })
    }
    // The scripts and whatever of the user's own they import; not this package or node_modules.
    const own = program.getSourceFileNames().filter((f) => !f.includes('/node_modules/') && !f.startsWith(join(PACKAGE_ROOT, 'lib')))
    // A helper module the scripts import is reported under the first script's name.
    const counts = new Map<string, number>()
    for (const file of own) {
      const field = `scripts.${(scripts.find((s) => s.path === file) ?? scripts[0]!).name}.module`
      for (const d of [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]) {
        const count = counts.get(field) ?? 0
        if (d.category !== ERROR || count >= MAX_PER_SCRIPT) continue
        counts.set(field, count + 1)
        problems.push({ field, message: `type error at ${where(file, d.pos, root)}: ${d.text} (TS${d.code})` })
      }
    }
    snapshot.dispose()
    return { checked: true, problems: dedupe(problems) }
  } catch (err) {
    return { checked: false, reason: `the TypeScript compiler failed: ${(err as Error).message}` }
  } finally {
    api?.close()
  }
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
