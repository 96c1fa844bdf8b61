// The C sources of the batched UDP helper and their fingerprint, for build.mjs (which compiles
// them and writes the fingerprint beside the build) and udp-mux-addon.ts (which refuses a build
// whose fingerprint is not the sources'). Plain JavaScript: build.mjs runs before TypeScript tooling.
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const nativeDir = dirname(fileURLToPath(import.meta.url))

/** Every .c and .h file here, by name: the .c files are compiled together into one module. */
export function nativeSources () {
  return readdirSync(nativeDir).filter((name) => /\.[ch]$/.test(name)).sort()
}

/** sha256 over every source's name and text, in order. */
export function sourcesHash () {
  const hash = createHash('sha256')
  for (const name of nativeSources()) hash.update(`${name}\0`).update(readFileSync(join(nativeDir, name))).update('\0')
  return hash.digest('hex')
}
