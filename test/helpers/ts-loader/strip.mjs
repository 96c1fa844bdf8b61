// TypeScript to JavaScript for the test processes' loader (hooks.mjs) and its warm-up (warm.mjs):
// esbuild strips the types once per file content, and the result is kept on disk for every test
// process after it.
import { createHash } from 'node:crypto'
import { lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// What tsx passes esbuild, less `keepNames` (transform mode renames nothing, so names hold) and
// less its tsconfig lookup: these are tsconfig.json's options that change the emitted code.
// The source map leaves out the sources' text: stack traces need only the mappings (tap reads
// the lines it shows from the file), and every test process parses each module's inline map
// when it loads it.
const TRANSFORM = {
  loader: 'ts',
  format: 'esm',
  target: `node${process.versions.node}`,
  sourcemap: 'inline',
  sourcesContent: false,
  tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true, useDefineForClassFields: true } },
}
const CACHE_DIR = join(tmpdir(), `phone-agent-ts-${process.getuid?.() ?? 'user'}`)

let esbuild
let cacheUsable
let transformId

/**
 * What makes the output differ besides the file: esbuild's version (read from its package.json:
 * loading esbuild itself costs a test process ~150 ms, and a warm cache never needs it) and the
 * options above.
 */
function transformKey () {
  if (transformId !== undefined) return transformId
  const pkg = createRequire(import.meta.url).resolve('esbuild/package.json')
  transformId = `${JSON.parse(readFileSync(pkg, 'utf8')).version}\0${JSON.stringify(TRANSFORM)}`
  return transformId
}

/** The JavaScript of the TypeScript file at `path`, from the cache when this content was stripped before. */
export async function stripped (path) {
  const source = readFileSync(path, 'utf8')
  const key = createHash('sha1').update(transformKey()).update('\0').update(path).update('\0').update(source).digest('hex')
  const cached = join(CACHE_DIR, `${key}.js`)
  if (cacheReady()) {
    try {
      return readFileSync(cached, 'utf8')
    } catch {}
  }
  esbuild ??= await import('esbuild')
  const { code } = esbuild.transformSync(source, { ...TRANSFORM, sourcefile: path })
  if (cacheReady()) {
    try {
      // Written aside and renamed: several test processes may strip the same file at once.
      const partial = `${cached}.${process.pid}.tmp`
      writeFileSync(partial, code)
      renameSync(partial, cached)
    } catch {}
  }
  return code
}

/**
 * Whether the cache folder is ours alone. It is code this process will run, in a shared temp
 * dir: a folder someone else made (or could write to) is not used, and every file is stripped.
 */
function cacheReady () {
  if (cacheUsable !== undefined) return cacheUsable
  try {
    mkdirSync(CACHE_DIR, { recursive: true, mode: 0o700 })
    const st = lstatSync(CACHE_DIR)
    cacheUsable = st.isDirectory() && (process.getuid === undefined || st.uid === process.getuid()) && (st.mode & 0o022) === 0
  } catch {
    cacheUsable = false
  }
  return cacheUsable
}
