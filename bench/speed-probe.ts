/**
 * How fast the machine's CPUs were over a bench window: bench/native/speed-probe.c runs one
 * fixed piece of work on each CPU every PERIOD_MS and says how much CPU time it took. The load
 * bench's own figures (CPU per turn, loop delay) move between runs of the same code by a quarter
 * or more; on a VM part of that is the cores' speed, which none of our processes' CPU shows. A
 * window's median against the quickest window of the same run says how much slower the machine
 * was then (issue 18: whether a missed run was a slower machine or our own code).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { cpus as machineCpus } from 'node:os'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { buildNative, closeNative } from './native-build.ts'
import { percentile } from './stats.ts'

/** One CPU over a window: the fixed work's thread CPU time, µs. */
export interface CpuSpeed {
  readonly cpu: number
  readonly samples: number
  readonly medianUs: number
  readonly p90Us: number
}

interface Sample { readonly cpu: number, readonly cpuUs: number, readonly at: number }

const PERIOD_MS = 100

export class SpeedProbe {
  readonly #child: ChildProcessWithoutNullStreams
  readonly #samples: Sample[] = []
  #exited = false

  private constructor (child: ChildProcessWithoutNullStreams) {
    this.#child = child
    child.stderr.on('data', (d: Buffer) => { process.stderr.write(`speed-probe: ${d.toString()}`) })
    child.stdin.on('error', () => {})
    child.once('exit', () => { this.#exited = true })
    createInterface({ input: child.stdout }).on('line', (line) => { this.#onLine(line) })
  }

  /**
   * A probe on each of the machine's first `cpus` CPUs (all of them by default: the bench pins
   * itself to one, so not its own affinity), or undefined when there is no C compiler.
   */
  static async start (cpus = machineCpus().length): Promise<SpeedProbe | undefined> {
    const binary = await buildNative('speed-probe', ['-pthread'])
    if (binary === undefined) return undefined
    const list = Array.from({ length: cpus }, (_, i) => String(i))
    return new SpeedProbe(spawn(binary, [String(PERIOD_MS), ...list], { stdio: ['pipe', 'pipe', 'pipe'] }))
  }

  get pid (): number { return this.#child.pid ?? 0 }

  /** Each CPU's figures from the samples taken between `from` and `to` (performance.now()). */
  between (from: number, to: number): CpuSpeed[] {
    const byCpu = new Map<number, number[]>()
    for (const s of this.#samples) {
      if (s.at < from || s.at > to) continue
      const list = byCpu.get(s.cpu) ?? []
      list.push(s.cpuUs)
      byCpu.set(s.cpu, list)
    }
    return [...byCpu].sort(([a], [b]) => a - b).map(([cpu, list]) => speedOf(cpu, list))
  }

  async close (): Promise<void> {
    if (this.#exited) return
    await closeNative(this.#child)
  }

  #onLine (line: string): void {
    const [kind, cpu, cpuNs] = line.split(' ')
    if (kind !== 's') return
    this.#samples.push({ cpu: Number(cpu), cpuUs: Number(cpuNs) / 1000, at: performance.now() })
  }
}

export function speedOf (cpu: number, cpuUs: readonly number[]): CpuSpeed {
  return { cpu, samples: cpuUs.length, medianUs: Math.round(percentile(cpuUs, 50)), p90Us: Math.round(percentile(cpuUs, 90)) }
}
