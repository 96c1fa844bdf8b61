/**
 * The server under test for bench/load.ts: the phone agent wired as `phone-agent serve` wires
 * it (metrics with the process metrics, the speech services from the config, the ops HTTP
 * server for /metrics), stream media, the built-in receptionist (converse) on the bench's
 * number, every provider an OpenAI-compatible fake in another process (bench/load-fakes.ts).
 *   node --expose-gc --import tsx bench/load-server.ts '{"fakesPort":N,"dir":"..."}'
 * IPC: `ready` with the Event Socket and metrics ports; `memory` (after a GC), `marks` (the
 * latency waterfalls recorded since the last ask), `snapshot` (a heap snapshot after a GC), `stop`. Exits when the driver goes away.
 */
import cluster from 'node:cluster'
import { join } from 'node:path'
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8'
import { pino } from 'pino'
import { startPhoneAgent } from '../lib/app.ts'
import { buildConfig } from '../lib/config/load.ts'
import { endpointingSchema } from '../lib/media/stream/turn-taking.ts'
import { startOpsServer } from '../lib/ops/http.ts'
import { sharedSocketStats } from '../lib/media/stream/index.ts'
import { Metrics } from '../lib/ops/metrics.ts'
import { closeProviderConnections } from '../lib/providers/openai-client.ts'
import { nullRecorder } from '../lib/records/null-recorder.ts'
import type { CallRecorder, CallStart, LatencyInput } from '../lib/records/types.ts'
import { createSpeechServices } from '../lib/speech/services.ts'
import { LOAD_DID, type LoadMemoryStats, type LoadServerArgs } from './load-protocol.ts'
import { runPrimary, type WorkerReply, type WorkerRequest } from './load-server-primary.ts'

const send = (reply: WorkerReply): void => { process.send?.(reply) }

/** `LOAD_SERVER_WORKERS=N` (N > 1): this process forks N workers as `server.workers: N` does (bench/load-server-primary.ts). */
const WORKERS = Number(process.env.LOAD_SERVER_WORKERS ?? '1')

/** The real schema: admission opened up (its defaults would refuse the ramp), no dead air at a quiet caller. */
function benchConfig (args: LoadServerArgs): Record<string, unknown> {
  const openai = { baseUrl: `http://127.0.0.1:${args.fakesPort}/v1` }
  const role = { concurrency: 256 }
  return {
    server: { port: 0, commandTimeoutMs: 10_000, lingerMs: 50 },
    media: {
      soundsDir: join(args.dir, 'sounds'),
      mode: 'stream',
      // The figures are for the classic detector; barge-in off keeps every call's turns on the caller's cycle.
      // Fixed endpointing (no preemptive reply): a turn's fixed share is then known, and what is
      // left of speech end -> audio in hand is our processing.
      // LOAD_SERVER_SOCKETS=per-call: a UDP socket per call instead of the shared batched one (media.stream.sockets).
      stream: { vad: { engine: 'classic', endSilenceMs: 500 }, bargeIn: { enabled: false }, endpointing: fixedEndpointing(), sockets: process.env.LOAD_SERVER_SOCKETS ?? 'shared' },
    },
    language: 'it-IT',
    speech: {
      stt: { provider: 'openai', openai, ...role },
      llm: { provider: 'openai', openai: { ...openai, model: 'bench' }, ...role },
      tts: { provider: 'openai', openai: { ...openai, format: 'pcm', sampleRate: 24_000 }, cacheMaxMegabytes: 64, ...role },
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    },
    routes: { [LOAD_DID]: { script: 'receptionist', options: { greeting: false } } },
    agent: { deadlines: { noInputMs: 60_000 } },
    guard: {
      callers: { allowPrefixes: ['+39'] },
      rates: { perCallerPerMinute: 1_000_000, perCallerPerHour: 1_000_000, perSourceIpPerMinute: 1_000_000, globalPerSecond: 100_000 },
      capacity: { maxConcurrent: 5000, whenFull: 'user-busy' },
    },
    ops: { http: { enabled: false } },
    logging: { level: 'warn' },
  }
}

/** Adaptive endpointing off, and preemptive replies off where this version has them. */
function fixedEndpointing (): Record<string, unknown> {
  return { adaptive: false, ...('preemptive' in endpointingSchema.shape ? { preemptive: false } : {}) }
}

async function main (args: LoadServerArgs): Promise<void> {
  const logger = pino({ level: 'warn' }, pino.destination({ dest: join(args.dir, 'server.log'), sync: false }))
  const config = buildConfig(benchConfig(args), args.dir)
  // A worker of bench/load-server-primary.ts: its process metrics labelled, its /metrics merged there.
  const worker = cluster.isWorker ? String(cluster.worker?.id) : undefined
  const metrics = new Metrics({ processMetrics: true, ...(worker !== undefined ? { processLabels: { worker } } : {}) })
  metrics.mediaSocket(sharedSocketStats)
  const speech = await createSpeechServices(config, logger, { observer: metrics })
  let marks: Array<LatencyInput & { uuid: string }> = []
  // latency() a method: a named arrow made per call would carry a 256-byte name dictionary under tsx (docs/benchmarks.md, "Memory per call").
  const records = { begin: (start: CallStart): CallRecorder => ({ ...nullRecorder(start.uuid), latency (l) { marks.push({ ...l, uuid: start.uuid }); metrics.turnLatency(l) } }) }
  const agent = await startPhoneAgent(config, { logger, speaker: speech.speaker, stt: speech.stt, llm: speech.llm, records })
  // The event-loop delay comes from /metrics, as an operator's Prometheus would read it.
  const ops = worker !== undefined ? undefined : await startOpsServer({ host: '127.0.0.1', port: 0, metrics, health: () => ({ ok: true, activeCalls: agent.server.activeCalls() }), logger })

  const handle = async (req: WorkerRequest): Promise<void> => {
    switch (req.type) {
      case 'metrics':
        send({ id: req.id, type: 'metrics', json: await metrics.json() })
        return
      case 'memory': {
        // Twice: the first pass can leave finalised buffers the second one frees.
        if (global.gc !== undefined) { global.gc(); global.gc() }
        const m = process.memoryUsage()
        const young = getHeapSpaceStatistics().filter((s) => s.space_name.startsWith('new_')).reduce((n, s) => n + s.space_size, 0)
        const stats: LoadMemoryStats = {
          rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, activeCalls: agent.server.activeCalls(),
          youngCommitted: young, heapCommitted: m.heapTotal,
        }
        send({ id: req.id, type: 'memory', stats })
        return
      }
      case 'snapshot':
        if (global.gc !== undefined) { global.gc(); global.gc() }
        send({ id: req.id, type: 'snapshot', path: writeHeapSnapshot(req.path) })
        return
      case 'marks':
        send({ id: req.id, type: 'marks', marks })
        marks = []
        return
      case 'stop':
        await agent.stop(5000)
        await ops?.close()
        await speech.close()
        await closeProviderConnections()
        send({ id: req.id, type: 'stopped' })
        process.disconnect?.()
    }
  }
  process.on('message', (req: WorkerRequest) => {
    handle(req).catch((err: unknown) => { send({ type: 'fatal', message: (err as Error).message }) })
  })
  send({ type: 'ready', port: agent.server.port, metricsPort: ops?.port ?? 0 })
}

if (process.send === undefined || process.argv[2] === undefined) {
  console.error('usage: forked by bench/load.ts with an IPC channel and a JSON argument')
  process.exit(2)
}
// The driver owns the run: Ctrl-C reaches the whole process group, and the driver sends `stop`.
process.on('SIGINT', () => {})
process.on('disconnect', () => { process.exit(0) })
const args = JSON.parse(process.argv[2]) as LoadServerArgs
;(cluster.isPrimary && WORKERS > 1 ? runPrimary(args, WORKERS) : main(args)).catch((err: unknown) => {
  send({ type: 'fatal', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) })
  process.exit(1)
})
