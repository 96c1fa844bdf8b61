import t from 'tap'
import { readdir } from 'node:fs/promises'
import { basename, dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { SharedSpecQueue, sharedQueueDir } from './spec-queue.ts'
import { DEFAULT_SPEC_SECONDS, SPEC_SECONDS } from './spec-weights.ts'

/**
 * Test files come in two kinds. `name.test.ts` runs in a process of its own (tap's default): the
 * few files that change process-wide state. `name.spec.ts` files leave the process as they found
 * it, and the runners `test/specs-01.test.ts` ... `test/specs-NN.test.ts` share them out: each
 * runs many in one process, so they share one start-up. Starting a test process that loads the
 * app costs 2-3 CPU-seconds of module loading (tap, the TypeScript loader, the module graph); for
 * ~180 spec files that was most of the suite's CPU time on a 2-core machine.
 *
 * Each spec registers its tests on tap's root test as it would alone, so a runner's specs run one
 * after the other; `npx tap test/folder/name.spec.ts` still runs one on its own.
 *
 * Most specs place simulated calls in real time and mostly wait, so what decides the suite's time
 * is that the runners end together. Under `npm test` they claim the specs one at a time from a
 * queue the run shares, longest first (spec-queue.ts), so each works until the queue is empty.
 * A runner run alone (`npx tap test/specs-03.test.ts`) takes the share specsFor deals it in
 * advance by the measured seconds, the same on every machine.
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

/** The test folder, where the runners are. */
export const TEST_ROOT = dirname(dirname(fileURLToPath(import.meta.url)))

/** A runner: `test/specs-01.test.ts`; two digits, so tap's name order is the number order. */
export const RUNNER_NAME = /^specs-(\d\d)\.test\.ts$/

/** Every spec file under test/, in path order. */
export async function allSpecs (dir = TEST_ROOT): Promise<string[]> {
  const found: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) found.push(...await allSpecs(path))
    else if (entry.name.endsWith(SPEC_SUFFIX)) found.push(path)
  }
  return found.sort()
}

/** The runners' file names, in order. */
export async function runnerNames (): Promise<string[]> {
  return (await readdir(TEST_ROOT)).filter((name) => RUNNER_NAME.test(name)).sort()
}

/** A spec's name in the weights and in the cost comments: its path under test/. */
export function specName (file: string): string {
  return relative(TEST_ROOT, file)
}

/**
 * The specs the runner at `runnerUrl` runs: every spec under test/ is dealt longest first to the
 * runner with the least time so far (ties to the lower number), by its measured seconds
 * (spec-weights.ts). The split is the same on every machine, so a failure names the same runner
 * everywhere.
 */
export async function specsFor (runnerUrl: string): Promise<string[]> {
  const share = RUNNER_NAME.exec(basename(fileURLToPath(runnerUrl)))?.[1]
  if (share === undefined) throw new Error(`${fileURLToPath(runnerUrl)} is not a runner (test/specs-NN.test.ts)`)
  const runners = (await runnerNames()).length
  const weighed = (await allSpecs()).map((file) => ({ file, seconds: SPEC_SECONDS[specName(file)] ?? DEFAULT_SPEC_SECONDS }))
  const loads = new Array<number>(runners).fill(0)
  const mine: string[] = []
  for (const { file, seconds } of weighed.sort((a, b) => b.seconds - a.seconds || a.file.localeCompare(b.file))) {
    const least = loads.indexOf(Math.min(...loads))
    loads[least] = (loads[least] ?? 0) + seconds
    if (least === Number(share) - 1) mine.push(file)
  }
  return mine.sort()
}

/** All specs, longest first by their measured seconds (ties by path): the order a shared queue hands them out. */
export async function specsLongestFirst (): Promise<string[]> {
  const weighed = (await allSpecs()).map((file) => ({ file, seconds: SPEC_SECONDS[specName(file)] ?? DEFAULT_SPEC_SECONDS }))
  return weighed.sort((a, b) => b.seconds - a.seconds || a.file.localeCompare(b.file)).map((w) => w.file)
}

/**
 * Run specs in this runner: claimed one at a time from the run's shared queue when `npm test`
 * asks for it (PHONE_AGENT_SPECS=shared, spec-queue.ts), else the runner's share dealt in
 * advance (specsFor), as when one runner is run alone.
 */
export async function runSpecs (moduleUrl: string): Promise<void> {
  const dir = process.env.PHONE_AGENT_SPECS === 'shared' ? sharedQueueDir() : undefined
  if (dir !== undefined) {
    runShared(new SharedSpecQueue(dir, await specsLongestFirst()))
    return
  }
  await runDealt(moduleUrl)
}

/**
 * Each claim is a test of its own, queued after the previous spec's tests: it claims a spec,
 * imports it (which queues its tests, to run next) and queues the next claim. So a spec's modules
 * load between the previous spec's tests and its own, never while a call of this process runs in
 * real time, and each spec gets three times TIMEOUT_PER_SPEC_MS from its claim.
 */
function runShared (queue: SharedSpecQueue): void {
  const cost = new SpecCost()
  const claimNext = (): void => {
    t.test('the next spec from the shared queue', async (st) => {
      const file = queue.claim()
      if (file === undefined) {
        cost.next(st, undefined)
        return
      }
      t.setTimeout(TIMEOUT_PER_SPEC_MS * 3)
      st.comment(`${specName(file)}: its tests start here`)
      cost.next(st, specName(file))
      try {
        await import(pathToFileURL(file).href)
      } catch (err) {
        st.fail(`${file} failed to load`, { error: err })
      }
      ;(globalThis as Record<symbol, readonly string[]>)[BASELINE] = process.getActiveResourcesInfo()
      claimNext()
    })
  }
  claimNext()
}

/** Import the spec files dealt to the runner at `moduleUrl` (specsFor). */
async function runDealt (moduleUrl: string): Promise<void> {
  const files = await specsFor(moduleUrl)
  t.setTimeout(Math.max(120_000, files.length * TIMEOUT_PER_SPEC_MS))
  if (files.length === 0) t.fail(`no ${SPEC_SUFFIX} files dealt to ${fileURLToPath(moduleUrl)}`)
  // Every spec is imported before the first test runs: loading a module holds the event loop
  // (hundreds of ms for a client SDK), and a spec whose calls run in real time must not share
  // its first seconds with the loading of the specs after it.
  let imported = (): void => {}
  const allImported = new Promise<void>((resolve) => { imported = resolve })
  t.before(async () => { await allImported })
  const cost = new SpecCost()
  for (const file of files) {
    // Queued before the spec's own tests, so it runs when the previous spec's are done.
    t.test(`${specName(file)}: its tests start here`, async (t) => {
      cost.next(t, specName(file))
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
