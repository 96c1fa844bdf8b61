/**
 * One step of the load bench (bench/load.ts), run again and again: how often the calls goal
 * holds, not whether it held once (issue 18). Each run starts its own server, fakes and media
 * generator, as a run of bench/load.ts does, and measures one step of N calls.
 *   node --import tsx bench/load-repeat.ts [--runs=5] [--calls=500] [--workers=2] [--no-write]
 * Writes BENCHMARKS.md's `load-repeat-workers` section (`load-repeat` for one process; bench/load-repeat-report.ts).
 */
import { readFile, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { round } from './capacity-stats.ts'
import { abortOnInterrupt } from './interrupt.ts'
import { runLoadBench } from './load.ts'
import { formatRepeatSection, repeatRun, repeatSectionName, type RepeatResult, type RepeatRun } from './load-repeat-report.ts'
import { spliceSection } from './sections.ts'

export interface RepeatOptions {
  readonly runs: number
  readonly calls: number
  readonly workers: number
  readonly signal?: AbortSignal
  readonly progress?: (line: string) => void
}

export async function runRepeated (options: RepeatOptions): Promise<RepeatResult> {
  const progress = options.progress ?? (() => {})
  const started = performance.now()
  // bench/load-server.ts reads the worker count from the environment, as bench/load.ts sets it.
  process.env.LOAD_SERVER_WORKERS = String(options.workers)
  const runs: RepeatRun[] = []
  let last: Awaited<ReturnType<typeof runLoadBench>> | undefined
  for (let i = 0; i < options.runs && options.signal?.aborted !== true; i++) {
    progress(`load-repeat: run ${i + 1} of ${options.runs}`)
    last = await runLoadBench({ steps: [options.calls], progress, ...(options.signal !== undefined ? { signal: options.signal } : {}) })
    const run = repeatRun(last, options.calls)
    runs.push(run)
    const s = run.step
    progress(`load-repeat: run ${i + 1}: ${s === undefined ? `no step (${run.stoppedBecause ?? '?'})` : `loop p99 ${s.talk.loopP99Ms} ms, pacing p99 ${s.talk.pacingP99Ms} ms, ${s.streamingAtEnd}/${s.calls} streaming`}`)
    // What the server warned about says why a call did not stream (bench/load.ts counts them by message).
    for (const [message, count] of last.serverWarnings) progress(`load-repeat: run ${i + 1}: server warned ${count} × ${message}`)
  }
  return {
    calls: options.calls,
    workers: options.workers,
    turns: true,
    runs,
    machine: last?.machine ?? { cpus: 0, cpuModel: 'unknown', node: process.version, pinned: false },
    serverNodeArgs: last?.serverNodeArgs ?? [],
    durationSeconds: round((performance.now() - started) / 1000, 0),
  }
}

/** `--name=N` as a positive integer, `fallback` when absent; undefined when malformed. */
function intArg (args: readonly string[], name: string, fallback: number): number | undefined {
  const raw = args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  const n = raw === undefined ? fallback : Number(raw)
  return Number.isInteger(n) && n > 0 ? n : undefined
}

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const runs = intArg(args, 'runs', 5)
  const calls = intArg(args, 'calls', 500)
  const workers = intArg(args, 'workers', 2)
  if (runs === undefined || calls === undefined || workers === undefined || args.some((a) => !/^--(runs|calls|workers)=|^--no-write$/.test(a))) {
    console.error('usage: node --import tsx bench/load-repeat.ts [--runs=5] [--calls=500] [--workers=2] [--no-write]')
    process.exit(2)
  }
  const signal = abortOnInterrupt('load-repeat')
  const result = await runRepeated({ runs, calls, workers, signal, progress: (line) => { console.error(line) } })
  const command = `node --import tsx bench/load-repeat.ts --runs=${runs} --calls=${calls} --workers=${workers}`
  const section = formatRepeatSection(result, command)
  console.log(section)
  console.log(JSON.stringify(result))
  if (!args.includes('--no-write')) {
    const path = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url))
    const name = repeatSectionName(workers)
    await writeFile(path, spliceSection(await readFile(path, 'utf8'), name, section))
    console.error(`load-repeat: BENCHMARKS.md section "${name}" written`)
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
