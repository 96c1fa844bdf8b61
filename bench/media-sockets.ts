/**
 * Our CPU per datagram with a socket per call against the process's shared batched socket
 * (media.stream.sockets, lib/media/stream/udp-mux.ts): N unicast endpoints, each receiving one
 * caller frame and sending one frame of queued audio per step, the frame clock moved by hand.
 * FreeSWITCH's side (bench/media-sockets-driver.mjs) runs in a child process, so the CPU here is
 * ours alone: the endpoints, Node's or the helper's socket layer and the kernel's work on our
 * syscalls (on loopback that includes delivering what we send).
 *
 * Run: node --import tsx bench/media-sockets.ts [calls] [steps] [runs]   (alternates the modes)
 */
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { loadavg } from 'node:os'
import { setImmediate as nextTask } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { MediaEndpoint } from '../lib/media/stream/endpoint.ts'
import { FrameScheduler } from '../lib/media/stream/scheduler.ts'
import { closeSharedUdpMuxes, sharedUdpMux } from '../lib/media/stream/shared-mux.ts'
import { FakeClock } from '../test/media-stream/fake-clock.ts'

type Mode = 'per-call' | 'shared'
interface Reply { type: string, ports?: number[], received?: number }

async function ask (child: ReturnType<typeof fork>, message: object, type: string): Promise<Reply> {
  child.send(message)
  for (;;) {
    const [reply] = await once(child, 'message') as [Reply]
    if (reply.type === type) return reply
  }
}

export async function runMode (mode: Mode, calls: number, steps: number): Promise<{ usPerFrame: number, frames: number }> {
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
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < steps; i++) await step()
  const cpu = process.cpuUsage(cpu0)
  const frames = (received - recv0) + endpoints.reduce((n, ep) => n + ep.stats.sent, 0) - sent0
  await Promise.all(endpoints.map(async (ep) => { await ep.close() }))
  closeSharedUdpMuxes()
  child.send({ type: 'close' })
  void driverReceived
  return { usPerFrame: (cpu.user + cpu.system) / frames, frames }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [calls = 200, steps = 500, runs = 3] = process.argv.slice(2).map(Number)
  const results: Record<Mode, number[]> = { 'per-call': [], shared: [] }
  const load0 = loadavg()
  for (let r = 0; r < runs; r++) {
    for (const mode of ['per-call', 'shared'] as const) {
      const { usPerFrame, frames } = await runMode(mode, calls, steps)
      results[mode].push(usPerFrame)
      console.log(`${mode}: ${usPerFrame.toFixed(2)} µs per frame (${frames} frames)`)
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number
  console.log(`calls ${calls}, steps ${steps}: median per-call ${median(results['per-call']).toFixed(2)} µs, shared ${median(results.shared).toFixed(2)} µs per frame; load average ${load0.map((l) => l.toFixed(2)).join(', ')} -> ${loadavg().map((l) => l.toFixed(2)).join(', ')}`)
}
