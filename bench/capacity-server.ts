/**
 * The server under test for bench/capacity.ts: the real phone agent (startPhoneAgent, stream
 * media mode, the capacity script) in a process of its own, so the simulator's work in the
 * driver is not counted against it. The driver forks it with an IPC channel:
 *   node --expose-gc --import tsx bench/capacity-server.ts CONFIG LOGFILE
 * It answers `window-start` / `window-end` (event-loop delay, frame pacing, CPU over the
 * window), `memory` (after a GC when asked) and `stop`. It exits when the driver goes away.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import pino from 'pino'
import { startPhoneAgent, type RunningPhoneAgent } from '../lib/app.ts'
import { loadConfigFile } from '../lib/config/load.ts'
import { sharedScheduler } from '../lib/media/stream/scheduler.ts'
import { toneSpeaker } from './capacity-fixture.ts'
import type { ServerReply, ServerRequest, WindowStats } from './capacity-protocol.ts'
import { Histogram } from './capacity-stats.ts'

const [configPath, logPath] = process.argv.slice(2)
const send = (reply: ServerReply): void => { process.send?.(reply) }

if (process.send === undefined || configPath === undefined || logPath === undefined) {
  console.error('usage: forked by bench/capacity.ts with CONFIG LOGFILE and an IPC channel')
  process.exit(2)
}

// 1 ms sampling: the verdict is on a 20 ms p99, and the default 10 ms would hide most of it.
const loopDelay = monitorEventLoopDelay({ resolution: 1 })
loopDelay.enable()

/**
 * A subscriber on the same scheduler the endpoints use, added last so that when it runs every
 * endpoint of the tick has already sent: its wake-up intervals are the send-side pacing, and
 * the time since the wake-up is the cost of one tick over all calls.
 */
class PacerProbe {
  readonly wakeDeviation = new Histogram(200, 0.05)
  readonly tickWork = new Histogram(200, 0.05)
  #last: number | undefined
  #remove: (() => void) | undefined
  readonly #start = { ...sharedScheduler().stats }

  start (): void {
    this.#remove = sharedScheduler().add({
      onTick: (_frames, now) => {
        this.tickWork.add(performance.now() - now)
        if (this.#last !== undefined) this.wakeDeviation.add(Math.abs(now - this.#last - sharedScheduler().frameMs))
        this.#last = now
      },
    })
  }

  stop (): WindowStats['pacer'] {
    this.#remove?.()
    const end = sharedScheduler().stats
    const dev = this.wakeDeviation.summary()
    return {
      wakeDeviationP50: dev.p50,
      wakeDeviationP99: dev.p99,
      tickWorkP99: this.tickWork.quantile(0.99),
      lateWakeups: end.lateWakeups - this.#start.lateWakeups,
      skippedFrames: end.skippedFrames - this.#start.skippedFrames,
    }
  }
}

const ms = (ns: number): number => ns / 1e6

async function main (config: string, logFile: string): Promise<void> {
  const logger = pino({ level: 'warn' }, pino.destination({ dest: logFile, sync: true }))
  const cfg = await loadConfigFile(config)
  const agent: RunningPhoneAgent = await startPhoneAgent(cfg, { logger, speaker: toneSpeaker(cfg.media.soundsDir) })
  let probe: PacerProbe | undefined
  let windowStart = { wall: performance.now(), cpu: process.cpuUsage() }

  const handle = async (req: ServerRequest): Promise<void> => {
    switch (req.type) {
      case 'window-start':
        loopDelay.reset()
        probe?.stop()
        probe = new PacerProbe()
        probe.start()
        windowStart = { wall: performance.now(), cpu: process.cpuUsage() }
        send({ id: req.id, type: 'ok' })
        return
      case 'window-end': {
        const stats = windowStats(probe)
        probe = undefined
        send({ id: req.id, type: 'window', stats })
        return
      }
      case 'memory': {
        // Twice: the first pass can leave finalised buffers the second one frees.
        if (req.gc && global.gc !== undefined) { global.gc(); global.gc() }
        const m = process.memoryUsage()
        send({ id: req.id, type: 'memory', stats: { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, activeCalls: agent.server.activeCalls() } })
        return
      }
      case 'stop':
        probe?.stop()
        await agent.stop(5000)
        loopDelay.disable()
        send({ id: req.id, type: 'stopped' })
        process.disconnect?.()
        return
    }
  }

  const windowStats = (p: PacerProbe | undefined): WindowStats => {
    const cpu = process.cpuUsage(windowStart.cpu)
    const wallMs = performance.now() - windowStart.wall
    return {
      loop: { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) },
      pacer: p?.stop() ?? { wakeDeviationP50: Number.NaN, wakeDeviationP99: Number.NaN, tickWorkP99: Number.NaN, lateWakeups: 0, skippedFrames: 0 },
      cpu: wallMs > 0 ? (cpu.user + cpu.system) / 1000 / wallMs : 0,
      activeCalls: agent.server.activeCalls(),
    }
  }

  process.on('message', (req: ServerRequest) => {
    handle(req).catch((err: unknown) => { send({ type: 'fatal', message: (err as Error).message }) })
  })
  send({ type: 'ready', port: agent.server.port })
}

// The driver owns the run: Ctrl-C reaches the whole process group, and the driver hangs the
// calls up and sends `stop`. If the driver dies instead, the IPC channel closes and so do we.
process.on('SIGINT', () => {})
process.on('disconnect', () => { process.exit(0) })

main(configPath, logPath).catch((err: unknown) => {
  send({ type: 'fatal', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) })
  process.exit(1)
})
