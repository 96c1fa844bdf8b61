/**
 * Our CPU per datagram with a socket per call against the process's shared batched socket
 * (media.stream.sockets, lib/media/stream/udp-mux.ts): N unicast endpoints, each receiving one
 * caller frame and sending one frame of queued audio per step, the frame clock moved by hand.
 * FreeSWITCH's side (bench/media-sockets-driver.mjs) runs in a child process, so the CPU here is
 * ours alone: the endpoints, Node's or the helper's socket layer and the kernel's work on our
 * syscalls (on loopback that includes delivering what we send).
 *
 * Run: node --import tsx bench/media-sockets.ts [calls] [steps] [runs] [--no-write]   (alternates the modes)
 */
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { readFile, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { setImmediate as nextTask } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { MediaEndpoint } from '../lib/media/stream/endpoint.ts'
import { FrameScheduler } from '../lib/media/stream/scheduler.ts'
import { closeSharedUdpMuxes, sharedUdpMux } from '../lib/media/stream/shared-mux.ts'
import { FakeClock } from '../test/media-stream/fake-clock.ts'
import { spliceSection } from './sections.ts'

type Mode = 'per-call' | 'shared'
interface Reply { type: string, ports?: number[], received?: number }

async function ask (child: ReturnType<typeof fork>, message: object, type: string): Promise<Reply> {
  child.send(message)
  for (;;) {
    const [reply] = await once(child, 'message') as [Reply]
    if (reply.type === type) return reply
  }
}

export interface ModeResult { usPerFrame: number, frames: number, perWakeUp?: number, perFlush?: number }

export async function runMode (mode: Mode, calls: number, steps: number): Promise<ModeResult> {
  const logger = pino({ level: 'warn' })
  const clock = new FakeClock()
  const scheduler = new FrameScheduler({ clock, timers: clock })
  const child = fork(fileURLToPath(new URL('./media-sockets-driver.mjs', import.meta.url)))
  const { ports } = await ask(child, { type: 'open', calls }, 'ports')
  const mux = mode === 'shared' ? sharedUdpMux('127.0.0.1', 0) : undefined
  if (mode === 'shared' && mux === undefined) throw new Error('the udp-mux helper is not built: npm run build:native')
  const endpoints = await Promise.all((ports ?? []).map(async (port) => await MediaEndpoint.open({ rate: 8000, logger, scheduler, peer: { address: '127.0.0.1', port }, mux, leadFrames: 1 })))
  await ask(child, { type: 'targets', ports: endpoints.map((ep) => ep.localAddress.port) }, 'ok')
  let received = 0
  for (const ep of endpoints) ep.onFrame(() => { received++ })
  for (const ep of endpoints) ep.enqueue(new Int16Array(8000 * Math.ceil((steps * 2 + 400) / 50)).fill(100))
  let driverReceived = 0
  const step = async (): Promise<void> => {
    const want = received + calls
    driverReceived = (await ask(child, { type: 'step' }, 'stepped')).received ?? 0
    for (let spins = 0; received < want && spins < 10_000; spins++) await nextTask()
    clock.advance(20)
    await nextTask()
  }
  for (let i = 0; i < 100; i++) await step() // warm-up (JIT)
  const recv0 = received
  const sent0 = endpoints.reduce((n, ep) => n + ep.stats.sent, 0)
  const mux0 = mux?.stats
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < steps; i++) await step()
  const cpu = process.cpuUsage(cpu0)
  const mux1 = mux?.stats
  const frames = (received - recv0) + endpoints.reduce((n, ep) => n + ep.stats.sent, 0) - sent0
  await Promise.all(endpoints.map(async (ep) => { await ep.close() }))
  closeSharedUdpMuxes()
  child.send({ type: 'close' })
  void driverReceived
  const ratios = mux0 === undefined || mux1 === undefined
    ? {}
    : { perWakeUp: (mux1.received - mux0.received) / (mux1.wakeUps - mux0.wakeUps), perFlush: (mux1.sent - mux0.sent) / (mux1.flushes - mux0.flushes) }
  return { usPerFrame: (cpu.user + cpu.system) / frames, frames, ...ratios }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [calls = 200, steps = 500, runs = 3] = process.argv.slice(2).filter((a) => !a.startsWith('--')).map(Number)
  const results: Record<Mode, ModeResult[]> = { 'per-call': [], shared: [] }
  const load0 = loadavg()
  for (let r = 0; r < runs; r++) {
    for (const mode of ['per-call', 'shared'] as const) {
      const result = await runMode(mode, calls, steps)
      results[mode].push(result)
      console.log(`${mode}: ${result.usPerFrame.toFixed(2)} µs per frame (${result.frames} frames)`)
    }
  }
  const load1 = loadavg()
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number
  const line = (mode: Mode): string => {
    const rows = results[mode]
    const perWake = mode === 'shared' ? median(rows.map((r) => r.perWakeUp ?? Number.NaN)).toFixed(1) : '1'
    const perFlush = mode === 'shared' ? median(rows.map((r) => r.perFlush ?? Number.NaN)).toFixed(1) : '1'
    return `| ${mode} | ${rows.map((r) => r.usPerFrame.toFixed(2)).join(', ')} | **${median(rows.map((r) => r.usPerFrame)).toFixed(2)}** | ${perWake} | ${perFlush} |`
  }
  const section = [
    '<!-- media-sockets:begin (written by bench/media-sockets.ts) -->',
    '## Media sockets: a socket per call against the shared batched socket (`bench/media-sockets.ts`, issue 18)',
    '',
    `\`node --import tsx bench/media-sockets.ts ${calls} ${steps} ${runs}\` (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC). Machine: ${cpus().length} × ${cpus()[0]?.model.split(' ').slice(0, 2).join(' ') ?? 'CPU'}, Node ${process.version}; load average ${load0.map((l) => l.toFixed(2)).join(', ')} at the start, ${load1.map((l) => l.toFixed(2)).join(', ')} at the end (CPU time, not wall time).`,
    '',
    `${calls} unicast endpoints (\`media.stream.sockets\`), each receiving one caller frame and sending one frame of queued audio per step, the frame clock moved by hand; FreeSWITCH's side (a socket per call bound at its local-port) in a child process, so the CPU is ours alone: the endpoints, the socket layer and the kernel's work on our system calls (on loopback that includes delivering what we send). Frames count both directions; the modes alternate, each run a fresh set of endpoints after 100 warm-up steps.`,
    '',
    '| sockets | µs CPU per frame, by run | median | datagrams per wake-up | datagrams per send call |',
    '| --- | --- | --- | --- | --- |',
    line('per-call'),
    line('shared'),
    '',
    'Here the driver sends a step\'s frames for every call at once, so the shared socket reads them in large batches; on a real switch each call keeps its own phase of the 20 ms clock and a wake-up finds fewer (the load bench below has every call on its own phase).',
    '<!-- media-sockets:end -->',
  ].join('\n')
  if (!process.argv.includes('--no-write')) {
    const file = new URL('../BENCHMARKS.md', import.meta.url)
    let doc = ''
    try { doc = await readFile(file, 'utf8') } catch {}
    await writeFile(file, spliceSection(doc, 'media-sockets', section))
  }
  console.log(section)
}
