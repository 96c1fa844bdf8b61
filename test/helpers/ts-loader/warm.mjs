// `npm test`'s pretest: strip every TypeScript file of the project once, in this one process,
// so the test processes that start together find them all in the cache (strip.mjs). Cold, each
// of them would start its own esbuild and strip the same few hundred files: about 1.2 CPU-s
// more per process, in a fresh clone (CI) every time.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stripped } from './strip.mjs'

const root = fileURLToPath(new URL('../../../', import.meta.url))

function tsFiles (dir) {
  const found = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) found.push(...tsFiles(path))
    else if (/\.[cm]?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) found.push(path)
  }
  return found
}

for (const dir of ['lib', 'test', 'bench']) {
  for (const file of tsFiles(join(root, dir))) {
    try {
      await stripped(file)
    } catch {
      // A file esbuild cannot parse fails where a test imports it, with the test's name on it.
    }
  }
}
