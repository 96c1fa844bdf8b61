import cluster from 'node:cluster'
import type { Logger } from 'pino'
import type { Config } from '../config/load.ts'
import { startPhoneAgent } from '../app.ts'
import { watchCalls } from '../notify/call-watch.ts'
import { sharedSocketStats } from '../media/stream/index.ts'
import { Metrics } from '../ops/metrics.ts'
import { ShutdownController } from '../ops/shutdown.ts'
import { closeProviderConnections } from '../providers/openai-client.ts'
import { openCallStore } from '../records/open.ts'
import { createSpeechServices } from '../speech/services.ts'
import { ipcAdmissionStore, type IpcPort } from './admission-ipc.ts'
import { isPrimaryMessage, type PrimaryMessage, type WorkerMessage } from './protocol.ts'
import { workerSlotFromEnv } from './slot.ts'
import { shareFreeswitchPorts } from '../call/stream/freeswitch-port.ts'

/** How often a worker tells the primary its calls (health, the console's live view). */
const STATUS_EVERY_MS = 1_000

/**
 * One worker process of `phone-agent serve` with `server.workers` > 1: it takes the calls the
 * primary hands it (node:cluster shares the Event Socket port and deals connections round
 * robin), records them to the shared store, and leaves everything that must happen once per
 * service to the primary: start-up recovery, the owner's services (notifications, transcripts,
 * retention, the console), the ops HTTP server, and the in-memory admission counters.
 */
export async function serveWorker (config: Config, logger: Logger, port: IpcPort<WorkerMessage, PrimaryMessage> = processPort()): Promise<number> {
  const id = String(cluster.worker?.id ?? 0)
  // The pid tells an operator which process to look at (or which one died).
  const log = logger.child({ worker: id, pid: process.pid })
  // Its share of FreeSWITCH's unicast ports (slot.ts says why).
  const slot = workerSlotFromEnv(process.env)
  if (slot !== undefined) shareFreeswitchPorts(slot.slot, slot.slots)
  const metrics = new Metrics({ processMetrics: config.ops.processMetrics, processLabels: { worker: id } })
  metrics.mediaSocket(sharedSocketStats)
  // No recovery here: the primary ran it before forking. A worker restarted later would mark
  // its siblings' live calls interrupted.
  const store = await openCallStore(config.records, { logger: log, configDir: config.configDir, env: process.env, observer: metrics })
  const speech = await createSpeechServices(config, log, { observer: metrics })
  const admissionStore = config.guard.store.type === 'memory' ? ipcAdmissionStore(port) : undefined
  const watch = watchCalls(store, (uuid) => { send(port, { pa: 'ended', uuid }) })
  // A call's record begun: the primary hears of it at once (one report per loop turn, however
  // many began), so a crash a moment later still marks that record interrupted.
  let reportSoon: NodeJS.Immediate | undefined
  const records = {
    begin: (start: Parameters<typeof watch.records.begin>[0]) => {
      reportSoon ??= setImmediate(() => { reportSoon = undefined; status() })
      return watch.records.begin(start)
    },
  }
  const agent = await startPhoneAgent(config, {
    logger: log, speaker: speech.speaker, stt: speech.stt, llm: speech.llm, records, admissionStore,
  })
  agent.server.onHandshakeFailed(({ reason }) => { metrics.handshakeFailed(reason) })
  const status = (): void => { send(port, { pa: 'status', active: agent.server.activeCalls(), live: watch.live() }) }
  const timer = setInterval(status, STATUS_EVERY_MS).unref()

  return await new Promise<number>((resolve) => {
    const shutdown = new ShutdownController({
      target: {
        stopAccepting: async () => { await agent.server.stopAccepting(); status() },
        activeCalls: () => agent.server.activeCalls(),
        endAll: async (reason) => { await agent.server.endAll(reason) },
      },
      deadlineMs: config.ops.shutdownDeadlineSeconds * 1000,
      logger: log,
      finalize: async () => {
        clearInterval(timer)
        if (reportSoon !== undefined) clearImmediate(reportSoon)
        await agent.stop(0)
        await speech.close()
        await closeProviderConnections()
        await admissionStore?.close()
        await store.close()
        stopListening()
      },
      exit: (code) => {
        // The IPC channel keeps a worker's event loop alive: let go of it so the process exits.
        process.off('disconnect', onPrimaryGone)
        if (process.connected) process.disconnect()
        resolve(code)
      },
    })
    shutdown.install(process)
    const stopListening = port.onMessage((message) => {
      if (message.pa === 'shutdown') void shutdown.shutdown('primary')
      else if (message.pa === 'metrics?') {
        metrics.json().then((json) => { send(port, { pa: 'metrics', id: message.id, metrics: json }) }, (err: unknown) => { log.warn({ err }, 'could not collect metrics') })
      }
    })
    // The primary is gone (crashed or killed): no new calls can reach us; finish the ones we have.
    const onPrimaryGone = (): void => { void shutdown.shutdown('primary gone') }
    process.once('disconnect', onPrimaryGone)
    send(port, { pa: 'ready' })
    status()
  })
}

/** This process's IPC channel to the primary. */
export function processPort (): IpcPort<WorkerMessage, PrimaryMessage> {
  return {
    // With a callback a send after the primary has gone fails quietly; without one Node emits
    // 'error' on the process, which would crash a worker still finishing its calls.
    send: (message) => { if (process.connected) process.send?.(message, undefined, undefined, ignore) },
    onMessage: (handler) => {
      const listener = (message: unknown): void => { if (isPrimaryMessage(message)) handler(message) }
      process.on('message', listener)
      return () => { process.off('message', listener) }
    },
  }
}

function ignore (): void {}

/** After the primary is gone sends fail; the worker finishes its calls all the same. */
function send (port: IpcPort<WorkerMessage, PrimaryMessage>, message: WorkerMessage): void {
  try {
    port.send(message)
  } catch { /* the IPC channel is closed */ }
}
