/**
 * VAD cost and latency, both engines: CPU per silent call, µs per active frame per call with
 * Silero batched at N = 1, 10, 100, 500, and what the batch tick adds to detection, in real time.
 * Writes its own section of BENCHMARKS.md (between the vad markers; the rest is left alone).
 *
 * Run: node --expose-gc --import tsx bench/vad.ts   (about a minute on the 2-core machine)
 */
import { readFile, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { loadSileroModel, type SileroModel } from '../lib/media/vad/silero-model.ts'
import { SileroRunner } from '../lib/media/vad/silero-runner.ts'
import { SileroVad } from '../lib/media/vad/silero-vad.ts'
import { Vad, type VadEvent, type VoiceDetector } from '../lib/media/vad/vad.ts'
import { FrameScheduler } from '../lib/media/stream/scheduler.ts'
import * as s from '../test/media-stream/signals.ts'
import { RATE, median, speechClips, type Clip } from '../test/media-stream/vad-corpus.ts'

type Log = (line: string) => void
type Engine = 'classic' | 'silero'

export interface SilentRow { readonly input: string, readonly engine: Engine, readonly corePct: number, readonly usPerFrame: number, readonly inferences: number }
export interface ActiveRow { readonly calls: number, readonly engine: string, readonly usPerFrame: number, readonly tickMsP50: number, readonly tickMsMax: number, readonly usPerWindow: number, readonly batch: number }
export interface LoopRow { readonly mode: string, readonly calls: number, readonly p50: number, readonly p99: number, readonly max: number, readonly busyTicks: number }
export interface LatencyRow { readonly engine: Engine, readonly starts: number, readonly startP50: number, readonly endP50: number, readonly lagP50: number, readonly lagMax: number }
export interface VadBenchResult {
  readonly silent: SilentRow[]
  readonly active: ActiveRow[]
  readonly latency: LatencyRow[]
  readonly loop: LoopRow[]
  readonly model: string
  readonly seconds: number
}

const FRAME = RATE / 50
const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }

function detectors (engine: Engine, n: number, runner: SileroRunner | undefined): VoiceDetector[] {
  return Array.from({ length: n }, () => engine === 'classic' || runner === undefined
    ? new Vad({ rate: RATE })
    : new SileroVad(runner.open(RATE), { rate: RATE }))
}

/** CPU of `calls` detectors fed `seconds` of one signal each, after a warm-up, one frame round per tick. */
async function silentCost (engine: Engine, input: string, signal: (seed: number, seconds: number) => Int16Array, runner: SileroRunner | undefined): Promise<SilentRow> {
  const calls = 200
  const warm = 3
  const seconds = 10
  const vads = detectors(engine, calls, runner)
  const audio = vads.map((_, i) => s.frames(signal(i + 1, warm + seconds), RATE))
  const warmFrames = warm * 50
  const frames = (warm + seconds) * 50
  let before = 0
  let rows = 0
  for (let f = 0; f < frames; f++) {
    if (f === warmFrames) {
      globalThis.gc?.()
      before = cpuMs()
      rows = runner?.stats.rows ?? 0
    }
    for (let i = 0; i < calls; i++) vads[i]!.push(audio[i]![f]!, f * 20)
    if (engine === 'silero') await runner?.tick()
  }
  const spent = cpuMs() - before
  vads.forEach((v) => { v.close() })
  return {
    input,
    engine,
    corePct: spent / (calls * seconds * 1000) * 100,
    usPerFrame: spent * 1000 / (calls * seconds * 50),
    inferences: (runner?.stats.rows ?? 0) - rows,
  }
}

/** N callers all speaking at once: every tick batches the windows that filled. */
async function activeCost (engine: Engine, calls: number, runner: SileroRunner | undefined, label: string = engine): Promise<ActiveRow> {
  const seconds = calls >= 100 ? 2 : 6
  const vads = detectors(engine, calls, runner)
  // A few distinct voices, shared: the model's cost does not depend on which speech it hears.
  const voices = Array.from({ length: 8 }, (_, k) => s.frames(s.speechLike(RATE, seconds + 1, -20, { seed: k + 1, f0: 90 + 20 * k }), RATE))
  const frames = seconds * 50
  const ticks: number[] = []
  // 0.5 s before measuring: every detector is active and holds a slot.
  for (let f = 0; f < 25; f++) {
    for (let i = 0; i < calls; i++) vads[i]!.push(voices[i % 8]![f]!, f * 20)
    if (engine === 'silero') await runner?.tick()
  }
  globalThis.gc?.()
  const before = cpuMs()
  const rows0 = runner?.stats.rows ?? 0
  for (let f = 25; f < 25 + frames; f++) {
    for (let i = 0; i < calls; i++) vads[i]!.push(voices[i % 8]![f]!, f * 20)
    if (engine === 'silero' && runner !== undefined) {
      const t0 = performance.now()
      await runner.tick()
      if (runner.stats.lastBatch > 0) ticks.push(performance.now() - t0)
    }
  }
  const spent = cpuMs() - before
  const rows = (runner?.stats.rows ?? 0) - rows0
  vads.forEach((v) => { v.close() })
  return {
    calls,
    engine: label,
    usPerFrame: spent * 1000 / (calls * frames),
    tickMsP50: ticks.length > 0 ? median(ticks) : 0,
    tickMsMax: ticks.length > 0 ? Math.max(...ticks) : 0,
    // From the median tick: a loaded machine's occasional stalls would dominate a mean.
    usPerWindow: rows > 0 && ticks.length > 0 ? median(ticks) * 1000 / (rows / ticks.length) : 0,
    batch: ticks.length > 0 ? Math.round(rows / ticks.length) : 0,
  }
}

/**
 * Real time: `clips` played by concurrent calls whose frames arrive on their own 20 ms phases,
 * the runner ticking on a frame scheduler as in the server. Delays are in media time from the
 * labelled onset and end; `lag` is from a window's last sample to the push that used its verdict.
 */
async function latency (clips: readonly Clip[], model: SileroModel): Promise<LatencyRow[]> {
  const scheduler = new FrameScheduler()
  const runner = new SileroRunner({ model, ticker: scheduler })
  const results: Record<Engine, { starts: number[], ends: number[] }> = { classic: { starts: [], ends: [] }, silero: { starts: [], ends: [] } }
  const lags: number[] = []
  let lagMax = 0
  await Promise.all(clips.map(async (clip, k) => {
    // Each call's frames arrive on a phase of their own, as UDP from FreeSWITCH does.
    await new Promise((resolve) => setTimeout(resolve, (k * 7) % 20))
    const classic = new Vad({ rate: RATE })
    const silero = new SileroVad(runner.open(RATE), { rate: RATE })
    const frames = s.frames(s.concat([clip.samples, s.silence(RATE, 1)]), RATE)
    const events: Record<Engine, VadEvent[]> = { classic: [], silero: [] }
    await new Promise<void>((resolve) => {
      let f = 0
      const timer = setInterval(() => {
        const a = classic.push(frames[f]!, f * 20)
        const b = silero.push(frames[f]!, f * 20)
        if (a !== undefined) events.classic.push(a)
        if (b !== undefined) events.silero.push(b)
        if (++f >= frames.length) {
          clearInterval(timer)
          resolve()
        }
      }, 20)
    })
    silero.close()
    if (silero.lag.windows > 0) lags.push(silero.lag.totalMs / silero.lag.windows)
    lagMax = Math.max(lagMax, silero.lag.maxMs)
    const seg = clip.speech[0]!
    for (const engine of ['classic', 'silero'] as const) {
      const start = events[engine].find((e) => e.type === 'speech-start')
      const end = events[engine].find((e) => e.type === 'speech-end')
      if (start !== undefined) results[engine].starts.push(start.detectedAt - seg.start)
      if (end !== undefined) results[engine].ends.push(end.detectedAt - seg.end)
    }
  }))
  return (['classic', 'silero'] as const).map((engine) => ({
    engine,
    starts: results[engine].starts.length,
    startP50: median(results[engine].starts),
    endP50: median(results[engine].ends),
    lagP50: engine === 'silero' ? median(lags) : 0,
    lagMax: engine === 'silero' ? lagMax : 0,
  }))
}

/**
 * Event-loop delay in real time with `calls` callers speaking at once, the runner on a frame
 * scheduler as in the server: what an inference on the main thread costs every other call.
 */
async function loopDelay (mode: string, calls: number, model: SileroModel, seconds: number): Promise<LoopRow> {
  const scheduler = new FrameScheduler()
  const runner = new SileroRunner({ model, ticker: scheduler })
  const vads = Array.from({ length: calls }, () => new SileroVad(runner.open(RATE), { rate: RATE }))
  const voices = Array.from({ length: 8 }, (_, k) => s.frames(s.speechLike(RATE, 4, -20, { seed: k + 1, f0: 90 + 20 * k }), RATE))
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  let f = 0
  const total = (seconds + 1) * 50
  await new Promise<void>((resolve) => {
    const remove = scheduler.add({
      onTick: () => {
        for (let i = 0; i < calls; i++) vads[i]!.push(voices[i % 8]![f % voices[0]!.length]!, f * 20)
        if (++f === 50) histogram.enable()
        if (f >= total) {
          remove()
          resolve()
        }
      },
    })
  })
  histogram.disable()
  vads.forEach((v) => { v.close() })
  const busyTicks = runner.stats.busyTicks
  await runner.close().catch(() => {})
  return { mode, calls, p50: histogram.percentile(50) / 1e6, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6, busyTicks }
}

export async function runVadBench (options: { log: Log }): Promise<VadBenchResult | { skipped: string }> {
  const log = options.log
  const started = performance.now()
  const loaded = await loadSileroModel()
  if (!loaded.ok) return { skipped: loaded.reason }
  const runner = new SileroRunner({ model: loaded.model, autoTick: false })
  const inputs: Array<[string, (seed: number, seconds: number) => Int16Array]> = [
    ['digital silence', (_seed, sec) => s.silence(RATE, sec)],
    ['quiet line (white noise −55 dBFS)', (seed, sec) => s.whiteNoise(RATE, sec, -55, seed)],
    ['noisy line (white noise −40 dBFS)', (seed, sec) => s.whiteNoise(RATE, sec, -40, seed)],
  ]
  const silent: SilentRow[] = []
  for (const [name, signal] of inputs) {
    for (const engine of ['classic', 'silero'] as const) {
      log(`vad: silent calls, ${name}, ${engine}`)
      silent.push(await silentCost(engine, name, signal, runner))
    }
  }
  const active: ActiveRow[] = []
  active.push(await activeCost('classic', 100, undefined))
  for (const calls of [1, 10, 100, 500]) {
    log(`vad: ${calls} active calls, silero`)
    active.push(await activeCost('silero', calls, runner, 'silero (main thread)'))
  }
  const inWorker = await loadSileroModel({ worker: true })
  if (!inWorker.ok) throw new Error(inWorker.reason)
  const workerRunner = new SileroRunner({ model: inWorker.model, autoTick: false })
  for (const calls of [1, 10, 100, 500]) {
    log(`vad: ${calls} active calls, silero in a worker`)
    active.push(await activeCost('silero', calls, workerRunner, 'silero (worker)'))
  }
  const loop: LoopRow[] = []
  for (const [mode, model] of [['main thread', loaded.model], ['worker', inWorker.model]] as const) {
    log(`vad: event-loop delay, 100 speaking calls in real time, inference on the ${mode}`)
    // The runner closes the model it ticks; keep ours for the next measurement.
    loop.push(await loopDelay(mode, 100, { run: model.run.bind(model), close: async () => {} }, 5))
  }
  await loaded.model.close()
  log('vad: detection latency in real time (36 labelled clips, concurrent, worker)')
  const { clips } = await speechClips()
  const lat = await latency(clips, inWorker.model)
  await inWorker.model.close()
  return { silent, active, latency: lat, loop, model: `${loaded.model.info.path.replace(/^.*node_modules\//, '')} (${loaded.model.info.runtime})`, seconds: (performance.now() - started) / 1000 }
}

const f2 = (v: number): string => v.toFixed(v < 0.1 ? 4 : 2)
const ms = (v: number): string => Number.isFinite(v) ? `${Math.round(v)} ms` : 'n/a'

export function vadSection (r: VadBenchResult | { skipped: string }, at = new Date()): string {
  const head = [
    START,
    '## VAD',
    '',
    `Command: \`node --expose-gc --import tsx bench/vad.ts\` (also run by \`npm run bench\`). Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}. Date: ${at.toISOString()}.`,
    '',
  ]
  if ('skipped' in r) return [...head, `Not measured: Silero is unavailable here (${r.skipped}).`, END, ''].join('\n')
  const silentWorst = Math.max(...r.silent.filter((x) => x.input !== 'noisy line (white noise −40 dBFS)').map((x) => x.corePct))
  return [
    ...head,
    `Model: ${r.model}, one intra-op thread. Detectors are fed 20 ms frames at 8 kHz in a loop (not paced); Silero's`,
    'runner ticks once per frame round, as it does once per 20 ms frame tick in a server. CPU is the process\'s',
    '(user + system) over the measured stretch. Details and the knobs: docs/vad.md.',
    '',
    '| measure | target | classic | silero | verdict |',
    '|---|---|---|---|---|',
    `| CPU per silent call (silence, quiet line) | ≤ 0.05 % of a core | ${f2(Math.max(...r.silent.filter((x) => x.engine === 'classic' && !x.input.startsWith('noisy')).map((x) => x.corePct)))} % | ${f2(Math.max(...r.silent.filter((x) => x.engine === 'silero' && !x.input.startsWith('noisy')).map((x) => x.corePct)))} % | ${silentWorst <= 0.05 ? 'met' : '**missed**'} |`,
    '',
    '### Silent calls (200 calls × 10 s after a 3 s warm-up)',
    '',
    '| input | engine | % of a core per call | µs per frame | windows sent to the model |',
    '|---|---|---|---|---|',
    ...r.silent.map((x) => `| ${x.input} | ${x.engine} | ${f2(x.corePct)} % | ${x.usPerFrame.toFixed(2)} | ${x.inferences} |`),
    '',
    '### Active calls (everyone speaking at once)',
    '',
    'µs per active frame per call covers everything: the classic features, window assembly and the batched inference',
    '(process CPU, all threads). A tick is one inference over every call with a full window (a window is 32 ms, so',
    '~5/8 of the calls each tick). On the main thread the inference is event-loop time; in the worker (the default)',
    'the event loop only copies the batch there and back, and waits for it free.',
    '',
    '| calls | engine | µs per active frame per call | % of a core per active call | rows per inference | inference per tick p50 / max | µs per window row |',
    '|---|---|---|---|---|---|---|',
    ...r.active.map((x) => `| ${x.calls} | ${x.engine} | ${x.usPerFrame.toFixed(1)} | ${(x.usPerFrame / 200).toFixed(2)} % | ${x.engine !== 'classic' ? x.batch : ''} | ${x.engine !== 'classic' ? `${x.tickMsP50.toFixed(2)} / ${x.tickMsMax.toFixed(2)} ms` : ''} | ${x.engine !== 'classic' ? x.usPerWindow.toFixed(0) : ''} |`),
    '',
    '### Event-loop delay with 100 callers speaking, real time',
    '',
    'The runner ticks on a frame scheduler and each tick pushes a frame of speech to every detector, as the server does.',
    '`monitorEventLoopDelay` over 5 s: how late every other timer and socket of the process would run.',
    '',
    '| inference on | calls | loop delay p50 | p99 | max | ticks skipped (inference still running) |',
    '|---|---|---|---|---|---|',
    ...r.loop.map((x) => `| ${x.mode} | ${x.calls} | ${x.p50.toFixed(1)} ms | ${x.p99.toFixed(1)} ms | ${x.max.toFixed(1)} ms | ${x.busyTicks} |`),
    '',
    '### Detection latency, real time (the labelled speech clips, all calls at once, frames on their own phases)',
    '',
    'From the labelled onset (the voice\'s first 10 ms block within 35 dB of its peak) to the push that returned',
    'speech-start, and from the labelled end to speech-end (end silence 500 ms, minimum speech 200 ms). Lag: from a',
    'window\'s last sample to the push that used the model\'s verdict on it (window fill, the wait for the tick, the',
    'inference, and the wait for the call\'s next frame).',
    '',
    '| engine | utterances found | start p50 | end p50 | verdict lag p50 / max |',
    '|---|---|---|---|---|',
    ...r.latency.map((x) => `| ${x.engine} | ${x.starts} | ${ms(x.startP50)} | ${ms(x.endP50)} | ${x.engine === 'silero' ? `${ms(x.lagP50)} / ${ms(x.lagMax)}` : ''} |`),
    '',
    `Run time ${Math.round(r.seconds)} s.`,
    END,
    '',
  ].join('\n')
}

const START = '<!-- bench/vad.ts: start -->'
const END = '<!-- bench/vad.ts: end -->'
const FILE = new URL('../BENCHMARKS.md', import.meta.url)

/** Replace this benchmark's section of BENCHMARKS.md, or append it. */
export async function writeVadSection (section: string): Promise<void> {
  let text = ''
  try { text = await readFile(FILE, 'utf8') } catch {}
  const a = text.indexOf(START)
  const b = text.indexOf(END)
  const next = a >= 0 && b > a
    ? text.slice(0, a) + section.trimEnd() + text.slice(b + END.length)
    : `${text.trimEnd()}\n\n${section}`
  await writeFile(FILE, next.endsWith('\n') ? next : `${next}\n`)
}

/** Run and write the section (bench/run.ts calls this after writing the rest of the file). */
export async function benchVad (options: { log: Log }): Promise<void> {
  await writeVadSection(vadSection(await runVadBench(options)))
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await benchVad({ log: (line) => { process.stderr.write(`bench: ${line}\n`) } })
  process.stderr.write('bench: VAD section written to BENCHMARKS.md\n')
}
