// Module hooks that load the project's TypeScript in the test processes (registered by
// register.mjs; they run in Node's loader thread, so this file is plain JavaScript).
//
// Why not tsx here, as the CLI does: on Node 20 every import of a process goes through the loader
// thread, and tsx's resolve and load hooks (tsconfig paths, `.js` -> `.ts` guessing, CommonJS
// interop) cost about 1-1.4 CPU-seconds more per test process. The project's imports name their
// `.ts` files exactly, so Node's own resolver finds them; all that is left is stripping types
// (strip.mjs). The CLI and its children keep tsx (user scripts may rely on its conveniences).
import { fileURLToPath } from 'node:url'
import { stripped } from './strip.mjs'

const TS_FILE = /\.[cm]?ts$/

export async function load (url, context, nextLoad) {
  if (!url.startsWith('file:') || !TS_FILE.test(url.split('?')[0])) return await nextLoad(url, context)
  return { format: 'module', source: await stripped(fileURLToPath(url)), shortCircuit: true }
}
