import t from 'tap'
import { readdir } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { SHARED_RUNNERS } from './spec-groups.ts'
import { DEFAULT_SPEC_SECONDS, SPEC_SECONDS } from './spec-weights.ts'

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
 *
 * A folder whose specs place calls in real time splits them over several processes, so the
 * waiting overlaps other work: runners `specs-1.test.ts` ... `specs-N.test.ts` instead of one
 * `specs.test.ts`, each taking its share (specsFor).
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

/** A folder's runner: `specs.test.ts` runs all its specs, `specs-K.test.ts` the K-th share; or a shared runner in test/ (spec-groups.ts). */
export const RUNNER_NAME = /^specs(?:-(\d+))?\.test\.ts$/

/** The test folder; runners directly in it are the shared ones (spec-groups.ts). */
export const TEST_ROOT = dirname(dirname(fileURLToPath(import.meta.url)))

/**
 * The specs the runner at `runnerUrl` runs. With N runners `specs-1` ... `specs-N`, the folder's
 * specs are dealt longest first to the runner with the least time so far (ties to the lower
 * number), by their measured seconds (spec-weights.ts): the split is the same on every machine,
 * so a failure names the same runner everywhere.
 */
export async function specsFor (runnerUrl: string): Promise<string[]> {
  const runner = fileURLToPath(runnerUrl)
  const folders = dirname(runner) === TEST_ROOT ? SHARED_RUNNERS[basename(runner)] : undefined
  if (folders !== undefined) {
    return (await Promise.all(folders.map(async (f) => await specsBeside(pathToFileURL(join(TEST_ROOT, f, 'x')).href)))).flat()
  }
  const all = await specsBeside(runnerUrl)
  const share = RUNNER_NAME.exec(basename(runner))?.[1]
  if (share === undefined) return all
  const runners = (await readdir(dirname(runner))).filter((n) => RUNNER_NAME.exec(n)?.[1] !== undefined).length
  const folder = basename(dirname(runner))
  const weighed = all.map((file) => ({ file, seconds: SPEC_SECONDS[`${folder}/${basename(file)}`] ?? DEFAULT_SPEC_SECONDS }))
  const loads = new Array<number>(runners).fill(0)
  const mine: string[] = []
  for (const { file, seconds } of weighed.sort((a, b) => b.seconds - a.seconds || a.file.localeCompare(b.file))) {
    const least = loads.indexOf(Math.min(...loads))
    loads[least] = (loads[least] ?? 0) + seconds
    if (least === Number(share) - 1) mine.push(file)
  }
  return mine.sort()
}

/** Import the spec files of the runner at `moduleUrl` (a folder's specs runner passes its own URL). */
export async function runSpecs (moduleUrl: string): Promise<void> {
  const files = await specsFor(moduleUrl)
  t.setTimeout(Math.max(120_000, files.length * TIMEOUT_PER_SPEC_MS))
  if (files.length === 0) t.fail(`no ${SPEC_SUFFIX} files beside ${fileURLToPath(moduleUrl)}`)
  // Every spec is imported before the first test runs: loading a module holds the event loop
  // (hundreds of ms for a client SDK), and a spec whose calls run in real time must not share
  // its first seconds with the loading of the specs after it.
  let imported = (): void => {}
  const allImported = new Promise<void>((resolve) => { imported = resolve })
  t.before(async () => { await allImported })
  const cost = new SpecCost()
  for (const file of files) {
    // Queued before the spec's own tests, so it runs when the previous spec's are done.
    t.test(`${basename(file)}: its tests start here`, async (t) => {
      cost.next(t, basename(file))
      ;(globalThis as Record<symbol, readonly string[]>)[BASELINE] = process.getActiveResourcesInfo()
    })
    try {
      await import(pathToFileURL(file).href)
    } catch (err) {
      // One spec that cannot load must not hide the others' results.
      t.fail(`${file} failed to load`, { error: err })
    }
  }
  t.test('spec costs', async (t) => { cost.next(t, undefined) })
  imported()
}

/**
 * Each spec's CPU time and wall time in this process, printed as a TAP comment when the next
 * spec starts, so a slow suite says which file to look at (the process's CPU time covers its
 * own threads, not child processes).
 */
class SpecCost {
  #name: string | undefined
  #cpu = process.cpuUsage()
  #wallAt = performance.now()

  next (t: { comment: (message: string) => void }, name: string | undefined): void {
    const cpu = process.cpuUsage(this.#cpu)
    const wallMs = performance.now() - this.#wallAt
    if (this.#name !== undefined) t.comment(`${this.#name}: ${((cpu.user + cpu.system) / 1e6).toFixed(2)} CPU-s, ${(wallMs / 1000).toFixed(1)} s`)
    this.#name = name
    this.#cpu = process.cpuUsage()
    this.#wallAt = performance.now()
  }
}
