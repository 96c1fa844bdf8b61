// Module hooks that load the project's TypeScript in the test processes (registered by
// register.mjs; they run in Node's loader thread, so this file is plain JavaScript).
//
// Why not tsx here, as the CLI does: on Node 20 every import of a process goes through the loader
// thread, and tsx's resolve and load hooks (tsconfig paths, `.js` -> `.ts` guessing, CommonJS
// interop) cost about 1.4 CPU-seconds per process that imports the app, 23 test processes a run.
// The project's imports name their `.ts` files exactly, so Node's own resolver finds them; all
// that is left is stripping types, which esbuild does once per file content, cached on disk.
// The CLI and its children keep tsx (user scripts may rely on its conveniences).
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// What tsx passes esbuild, less `keepNames` (transform mode renames nothing, so names hold) and
// less its tsconfig lookup: these are tsconfig.json's options that change the emitted code.
const TRANSFORM = {
  loader: 'ts',
  format: 'esm',
  target: `node${process.versions.node}`,
  sourcemap: 'inline',
  tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true, useDefineForClassFields: true } }
}
const CACHE_DIR = join(tmpdir(), `phone-agent-ts-${process.getuid?.() ?? 'user'}`)
const TS_FILE = /\.[cm]?ts$/

let esbuild
let cacheReady = false

export async function load (url, context, nextLoad) {
  if (!url.startsWith('file:') || !TS_FILE.test(url.split('?')[0])) return await nextLoad(url, context)
  const path = fileURLToPath(url)
  const source = readFileSync(path, 'utf8')
  return { format: 'module', source: await transformed(path, source), shortCircuit: true }
}

/** The file's JavaScript, from the cache when this content (at this path) was stripped before. */
async function transformed (path, source) {
  esbuild ??= await import('esbuild')
  const key = createHash('sha1').update(esbuild.version).update('\0').update(path).update('\0').update(source).digest('hex')
  const cached = join(CACHE_DIR, `${key}.js`)
  try {
    return readFileSync(cached, 'utf8')
  } catch {}
  const { code } = esbuild.transformSync(source, { ...TRANSFORM, sourcefile: path })
  try {
    if (!cacheReady) mkdirSync(CACHE_DIR, { recursive: true })
    cacheReady = true
    // Written aside and renamed: eight test processes may strip the same file at once.
    const partial = `${cached}.${process.pid}.tmp`
    writeFileSync(partial, code)
    renameSync(partial, cached)
  } catch {}
  return code
}
