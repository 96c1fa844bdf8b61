import t from 'tap'
import { readdir } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/**
 * Test files come in two kinds. `name.test.ts` runs in a process of its own (tap's default): the
 * files that place simulated calls in real time, wait on audio, or change process-wide state.
 * `name.spec.ts` files are quick and leave the process as they found it; a folder's
 * `specs.test.ts` imports all of them into one process, so they share one start-up. Starting a
 * test process that loads the app costs 3-4 CPU-seconds of module loading (tsx's loader, tap's
 * preloads); for ~90 quick files that was most of the suite's CPU time on a 2-core machine.
 *
 * Each spec registers its tests on tap's root test as it would alone, so they run one after the
 * other in file-name order; `npx tap test/folder/name.spec.ts` still runs one on its own.
 */
export const SPEC_SUFFIX = '.spec.ts'

const BASELINE = Symbol.for('phone-agent.test.spec-baseline')

/**
 * The process's live resources (timers, sockets, ...) when the current spec's tests began, or
 * none when the spec runs in a process of its own. A spec that checks it left nothing behind
 * compares with this, not with zero: an earlier spec in the same process may still hold a
 * kept-alive socket or a timer that is not this spec's.
 */
export function specBaseline (): readonly string[] {
  return (globalThis as Record<symbol, readonly string[] | undefined>)[BASELINE] ?? []
}

/** `now` less the baseline, type by type (what this spec's own tests left). */
export function beyondBaseline (now: readonly string[]): string[] {
  const left = [...specBaseline()]
  return now.filter((r) => {
    const i = left.indexOf(r)
    if (i < 0) return true
    left.splice(i, 1)
    return false
  })
}

/** Per spec file, added to tap's timeout for the whole process (tap's own is per process). */
const TIMEOUT_PER_SPEC_MS = 60_000

export async function specsBeside (moduleUrl: string): Promise<string[]> {
  const dir = dirname(fileURLToPath(moduleUrl))
  return (await readdir(dir)).filter((name) => name.endsWith(SPEC_SUFFIX)).sort().map((name) => join(dir, name))
}

/** Import every spec file in the folder of `moduleUrl` (a folder's specs.test.ts passes its own). */
export async function runSpecs (moduleUrl: string): Promise<void> {
  const files = await specsBeside(moduleUrl)
  t.setTimeout(Math.max(120_000, files.length * TIMEOUT_PER_SPEC_MS))
  if (files.length === 0) t.fail(`no ${SPEC_SUFFIX} files beside ${fileURLToPath(moduleUrl)}`)
  // Every spec is imported before the first test runs: loading a module holds the event loop
  // (hundreds of ms for a client SDK), and a spec whose calls run in real time must not share
  // its first seconds with the loading of the specs after it.
  let imported = (): void => {}
  const allImported = new Promise<void>((resolve) => { imported = resolve })
  t.before(async () => { await allImported })
  for (const file of files) {
    // Queued before the spec's own tests, so it runs when the previous spec's are done.
    t.test(`${basename(file)}: its tests start here`, async () => {
      (globalThis as Record<symbol, readonly string[]>)[BASELINE] = process.getActiveResourcesInfo()
    })
    try {
      await import(pathToFileURL(file).href)
    } catch (err) {
      // One spec that cannot load must not hide the others' results.
      t.fail(`${file} failed to load`, { error: err })
    }
  }
  imported()
}
