/**
 * The media hot path per frame: N unicast endpoints, each sending one 20 ms frame of queued
 * audio and receiving one from "FreeSWITCH" (a loopback socket) per step, the frame clock moved
 * by hand so timers play no part. Reports CPU per frame (send + receive, our side and the
 * kernel's; the driver's own sends included) and garbage collections per 10,000 frames: the
 * cost of allocating per frame shows up as scavenges.
 *
 * Run: node --import tsx bench/media-hot-path.ts [calls] [steps] [--no-write]
 * Before/after: --compare=DIR runs an older tree's copy of this bench alternately with this one.
 */
import { execFileSync } from 'node:child_process'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { readFile, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PerformanceObserver, performance } from 'node:perf_hooks'
import { setImmediate as nextTask } from 'node:timers/promises'
import pino from 'pino'
import { MediaEndpoint } from '../lib/media/stream/endpoint.ts'
import { FrameScheduler } from '../lib/media/stream/scheduler.ts'
import { spliceSection } from './sections.ts'
// A frame clock that moves only when told: no timer lateness in the figures.
import { FakeClock } from '../test/media-stream/fake-clock.ts'

const FILE = new URL('../BENCHMARKS.md', import.meta.url)

export interface HotPathResult {
  readonly calls: number
  readonly steps: number
  /** Frames sent plus frames received, all calls. */
  readonly frames: number
  readonly cpuUsPerFrame: number
  readonly gcPer10kFrames: number
  readonly gcMsPer10kFrames: number
  /** Send buffers allocated beyond each call's ring, all calls (0: no allocation per frame). */
  readonly sendBuffersGrown?: number
}

export async function runHotPath (calls = 100, steps = 500): Promise<HotPathResult> {
  const logger = pino({ level: 'warn' })
  const clock = new FakeClock()
  const scheduler = new FrameScheduler({ clock, timers: clock })
  const fs = dgram.createSocket('udp4')
  fs.on('message', () => {})
  fs.bind(0, '127.0.0.1')
  await once(fs, 'listening')
  const peer = { address: '127.0.0.1', port: fs.address().port }
  const endpoints = await Promise.all(Array.from({ length: calls }, () => MediaEndpoint.open({ rate: 8000, logger, scheduler, peer, leadFrames: 1 })))
  let received = 0
  for (const ep of endpoints) ep.onFrame(() => { received++ })
  const callerFrame = Buffer.alloc(320)
  for (let i = 0; i < 160; i++) callerFrame.writeInt16LE(Math.round(3000 * Math.sin(i / 3)), i * 2)
  let sends = 0
  const sent = (): void => { sends++ }

  const step = async (): Promise<void> => {
    for (const ep of endpoints) fs.send(callerFrame, ep.localAddress.port, '127.0.0.1', sent)
    clock.advance(20)
    const want = received + calls
    // Let the datagrams land and the send callbacks run.
    for (let spins = 0; received < want && spins < 1000; spins++) await nextTask()
  }
  for (const ep of endpoints) ep.enqueue(new Int16Array(8000 * Math.ceil((steps * 2 + 200) / 50)).fill(100))
  for (let i = 0; i < 100; i++) await step() // warm-up (JIT)

  let gcs = 0
  let gcMs = 0
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) { gcs++; gcMs += e.duration }
  })
  obs.observe({ entryTypes: ['gc'] })
  const recv0 = received
  const sent0 = endpoints.reduce((n, ep) => n + ep.stats.sent, 0)
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < steps; i++) await step()
  const cpu = process.cpuUsage(cpu0)
  await nextTask()
  obs.disconnect()
  const frames = (received - recv0) + endpoints.reduce((n, ep) => n + ep.stats.sent, 0) - sent0
  const grown = endpoints.reduce((n, ep) => n + ((ep.stats as { sendBuffersGrown?: number }).sendBuffersGrown ?? 0), 0)
  await Promise.all(endpoints.map((ep) => ep.close()))
  fs.close()
  void sends
  return {
    calls,
    steps,
    frames,
    cpuUsPerFrame: (cpu.user + cpu.system) / frames,
    gcPer10kFrames: gcs * 10_000 / frames,
    gcMsPer10kFrames: gcMs * 10_000 / frames,
    sendBuffersGrown: grown,
  }
}

export interface SliceRow {
  readonly from: number
  readonly to: number
  /** Wall time of resample() of 10 s in one task. */
  readonly wholeMs: number
  readonly tasks: number
  readonly p50Ms: number
  readonly maxMs: number
}

/** How long one task holds the event loop when 10 s of audio is resampled whole vs in 100 ms slices (warm). */
export async function sliceTimes (): Promise<SliceRow[]> {
  // Loaded here, not at the top: --compare runs this file from trees that predate resampleSliced.
  const { resample } = await import('../lib/media/resample.ts')
  const { resampleSliced } = await import('../lib/media/resample-stream.ts')
  const rows: SliceRow[] = []
  for (const [from, to] of [[24000, 8000], [24000, 16000], [22050, 8000], [44100, 8000]] as const) {
    const input = Int16Array.from({ length: from * 10 }, (_, i) => Math.round(8000 * Math.sin(i / 7) + 2000 * Math.sin(i / 1.7)))
    for (let w = 0; w < 2; w++) resample(input, from, to)
    await resampleSliced(input, from, to) // warm (JIT)
    const t0 = performance.now()
    resample(input, from, to)
    const wholeMs = performance.now() - t0
    const slices: number[] = []
    let start = performance.now()
    await resampleSliced(input, from, to, {
      yieldTask: async () => { await nextTask(); start = performance.now() },
      onSlice: () => { slices.push(performance.now() - start); return true },
    })
    slices.sort((a, b) => a - b)
    rows.push({ from, to, wholeMs, tasks: slices.length, p50Ms: slices[slices.length >> 1] ?? Number.NaN, maxMs: slices.at(-1) ?? Number.NaN })
  }
  return rows
}

export function hotPathSection (before: HotPathResult | undefined, after: HotPathResult, slices: readonly SliceRow[] = [], at = new Date()): string {
  const row = (name: string, r: HotPathResult): string =>
    `| ${name} | ${r.calls} | ${r.frames} | ${r.cpuUsPerFrame.toFixed(2)} | ${r.gcPer10kFrames.toFixed(2)} | ${r.gcMsPer10kFrames.toFixed(2)} |`
  return [
    '<!-- media-hot-path:begin -->',
    '## Media hot path: CPU and garbage per frame (`bench/media-hot-path.ts`)',
    '',
    `${at.toISOString().slice(0, 10)}, \`node --import tsx bench/media-hot-path.ts ${after.calls} ${after.steps}\`, ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, load average ${loadavg()[0]?.toFixed(1)} (a shared machine: CPU time, not wall time).`,
    `${after.calls} endpoints, each sending one frame of queued audio and receiving one frame per step over loopback UDP, the frame clock moved by hand; frames counts both directions. CPU includes the kernel and the driver's own sends (the same in both rows).`,
    '',
    ...(before === undefined ? [] : ['Medians of 5 alternating runs of each tree, each run in a fresh process (`--compare=DIR`, DIR the tree before this change).', '']),
    '| tree | calls | frames | CPU µs/frame | GCs per 10k frames | GC ms per 10k frames |',
    '|---|---|---|---|---|---|',
    ...(before === undefined ? [] : [row('before', before)]),
    row(before === undefined ? 'this tree' : 'after', after),
    '',
    `Send buffers added beyond the rings during the run (after): ${after.sendBuffersGrown ?? 'n/a'}.`,
    'CPU per frame is mostly the kernel\'s send and receive and Node\'s dgram layer: differences under ~20 % are',
    'within this machine\'s run-to-run noise (two comparisons on 2026-12-01: 16.9 -> 12.9 and 17.4 -> 16.7 µs).',
    '',
    'Outgoing frames are written straight into one of 4 reused send buffers per call, listeners are iterated without',
    'iterators, and a received frame\'s samples are a view on the datagram Node already allocated for it, not a copy.',
    'Since 2026-12-02 the connected socket\'s sends carry no callback (one in 50 does, to see send errors) and a buffer',
    'is free again once the socket\'s send queue is seen empty: measured alone, 100 connected loopback sockets, about',
    '0.2-1 µs less per datagram, below this bench\'s noise.',
    ...(slices.length === 0
      ? []
      : [
          '',
          'Resampling 10 s of audio (a long TTS sentence or a prompt at another rate): one task for the whole buffer',
          '(before: `resample()` in `endpoint.enqueue` and the sound-file cache) against 100 ms slices with the event loop',
          'free between them (now), warm, wall time of each task. Goal: no task over 2 ms.',
          '',
          '| rate | whole, one task (ms) | sliced: tasks | p50 per task (ms) | max per task (ms) |',
          '|---|---|---|---|---|',
          ...slices.map((r) => `| ${r.from} -> ${r.to} | ${r.wholeMs.toFixed(1)} | ${r.tasks} | ${r.p50Ms.toFixed(2)} | ${r.maxMs.toFixed(2)} |`),
          '',
          'The first slice of a process, before the JIT has compiled the resampler, took up to 9 ms in one run.',
        ]),
    '<!-- media-hot-path:end -->',
  ].join('\n')
}

/** One run in a child process (a fresh heap and JIT), from `tree` (this checkout or an older copy). */
function runChild (tree: string, calls: number, steps: number): HotPathResult {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(tree, 'bench/media-hot-path.ts'), String(calls), String(steps), '--no-write'], { cwd: tree, encoding: 'utf8' })
  return (JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { after: HotPathResult }).after
}

function median (rows: HotPathResult[]): HotPathResult {
  const mid = <K extends keyof HotPathResult>(k: K): number => {
    const v = rows.map((r) => r[k] as number).sort((a, b) => a - b)
    return v[Math.floor(v.length / 2)] ?? Number.NaN
  }
  const first = rows[0] as HotPathResult
  return { ...first, cpuUsPerFrame: mid('cpuUsPerFrame'), gcPer10kFrames: mid('gcPer10kFrames'), gcMsPer10kFrames: mid('gcMsPer10kFrames') }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'))
  const calls = Number(args[0] ?? 100)
  const steps = Number(args[1] ?? 500)
  // --compare=DIR: DIR holds an older tree (git archive <rev> lib bench test | tar -x -C DIR, with
  // node_modules linked); both trees run alternately in child processes, the medians of 5 reported.
  const compare = process.argv.find((a) => a.startsWith('--compare='))?.slice('--compare='.length)
  let before: HotPathResult | undefined
  let result: HotPathResult
  if (compare === undefined) {
    result = await runHotPath(calls, steps)
  } else {
    const here = fileURLToPath(new URL('..', import.meta.url))
    const b: HotPathResult[] = []
    const a: HotPathResult[] = []
    for (let i = 0; i < 5; i++) {
      b.push(runChild(compare, calls, steps))
      a.push(runChild(here, calls, steps))
    }
    before = median(b)
    result = median(a)
  }
  process.stdout.write(`${JSON.stringify({ before, after: result })}\n`)
  if (!process.argv.includes('--no-write')) {
    let doc = ''
    try { doc = await readFile(FILE, 'utf8') } catch {}
    await writeFile(FILE, spliceSection(doc, 'media-hot-path', hotPathSection(before, result, await sliceTimes())))
  }
}
