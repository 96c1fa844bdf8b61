// Module hooks for call scripts kept outside this package (registered by lib/call/script.ts with
// node:module register(); they run in Node's loader thread, so this file is plain JavaScript).
//
// 1. `import ... from 'phone-agent'` resolves to this package when the script's own folder has
//    no node_modules/phone-agent: a script in /etc/phone-agent/scripts works without a project.
// 2. A `.ts` file with no `"type"` in its nearest package.json is loaded as an ES module. tsx
//    would treat it as CommonJS (Node's rule for files outside a `"type": "module"` package) and
//    the script's `import`/`export default` then fail with "Cannot require() ES Module ... in a
//    cycle". Scripts are ES modules by definition (`export default defineScript(...)`); a file
//    whose package says `"type": "commonjs"` is left as it is.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ENTRY = new URL('../index.ts', import.meta.url).href
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const typeCache = new Map()

export async function resolve (specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context)
  } catch (err) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && (specifier === 'phone-agent' || specifier === 'phone-agent/')) {
      return await nextResolve(ENTRY, context)
    }
    throw err
  }
}

export async function load (url, context, nextLoad) {
  if (url.startsWith('file:') && /\.tsx?$/.test(new URL(url).pathname)) {
    const path = fileURLToPath(url)
    if (!path.includes('/node_modules/') && !path.startsWith(PACKAGE_ROOT) && packageType(dirname(path)) === undefined) {
      return await nextLoad(url, { ...context, format: 'module' })
    }
  }
  return await nextLoad(url, context)
}

/** The `"type"` of the nearest package.json above `dir`, or undefined when none says. */
function packageType (dir) {
  if (typeCache.has(dir)) return typeCache.get(dir)
  let type
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
    type = typeof pkg.type === 'string' ? pkg.type : undefined
    typeCache.set(dir, type)
    return type
  } catch {}
  const parent = dirname(dir)
  type = parent === dir ? undefined : packageType(parent)
  typeCache.set(dir, type)
  return type
}
