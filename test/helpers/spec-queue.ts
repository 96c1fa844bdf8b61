import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * The spec files of one `npm test`, handed out one at a time to whichever runner asks first.
 *
 * Dealt in advance (specsFor), the runners' shares take as long as each other only on the machine
 * and load the weights were measured on: under contention a runner with CPU-heavy specs (a
 * 1,000-call flood) stretched to twice its share while others sat finished, and tap's ten job
 * slots ran the 18 runners in two waves, so the suite took two stretched shares. Claimed from a
 * shared queue, longest first, every runner works until the queue is empty and they all end
 * within one short spec of each other, whatever the machine does meanwhile; and a handful of
 * runners is enough, each of which loads the app's modules once.
 *
 * The queue is a folder of claim files, one per spec by its place in the list: a runner claims a
 * spec by creating its file (O_EXCL), so two runners never get the same one. Every runner builds
 * the same list (the same files, the same weights). The folder is keyed by the tap process that
 * started the runners (its pid and start time, from /proc), so the runners of one run share it
 * and no other run's claims count.
 */
export class SharedSpecQueue {
  readonly #dir: string
  readonly #specs: readonly string[]
  #next = 0

  /** `specs` in the order they are handed out; `dir` is this run's folder of claims. */
  constructor (dir: string, specs: readonly string[]) {
    this.#dir = dir
    this.#specs = specs
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  }

  /** The next spec nobody has claimed, now ours; undefined when all are taken. */
  claim (): string | undefined {
    for (; this.#next < this.#specs.length; this.#next++) {
      try {
        writeFileSync(join(this.#dir, String(this.#next)), `${process.pid}\n`, { flag: 'wx' })
        return this.#specs[this.#next++]
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
    }
    return undefined
  }
}

/** Queue folders older than this are a finished run's: removed when a new run starts. */
const STALE_MS = 24 * 3600_000

/**
 * This run's queue folder, or undefined when the runners cannot tell they belong to one run (no
 * /proc) or the parent folder is not this user's alone: the caller then deals the specs in advance.
 */
export function sharedQueueDir (): string | undefined {
  const parent = join(tmpdir(), `phone-agent-specs-${process.getuid?.() ?? 'user'}`)
  let run: string
  try {
    const stat = readFileSync(`/proc/${process.ppid}/stat`, 'utf8')
    // Field 22, the start time: after the command name in parentheses come fields 3 onward.
    const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
    if (startTime === undefined) return undefined
    run = `${process.ppid}-${startTime}`
    mkdirSync(parent, { recursive: true, mode: 0o700 })
    const st = lstatSync(parent)
    if (!st.isDirectory() || (process.getuid !== undefined && st.uid !== process.getuid()) || (st.mode & 0o022) !== 0) return undefined
  } catch {
    return undefined
  }
  for (const old of readdirSync(parent)) {
    if (old === run) continue
    try {
      if (Date.now() - statSync(join(parent, old)).mtimeMs > STALE_MS) rmSync(join(parent, old), { recursive: true, force: true })
    } catch {}
  }
  return join(parent, run)
}
