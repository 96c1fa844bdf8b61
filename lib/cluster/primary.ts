import { join } from 'node:path'
import type { Logger } from 'pino'
import type { Config } from '../config/load.ts'
import { createMemoryStore } from '../guard/store.ts'
import { startOpsServer, type OpsServer } from '../ops/http.ts'
import { Metrics, mergedMetrics } from '../ops/metrics.ts'
import { startOwnerServices } from '../owner/services.ts'
import { closeProviderConnections } from '../providers/openai-client.ts'
import { openCallStore } from '../records/open.ts'
import { recoverMessages } from '../records/recover-messages.ts'
import { createSpeechServices } from '../speech/services.ts'
import { WorkerPool } from './pool.ts'

/**
 * `phone-agent serve` with `server.workers` > 1: this process (the primary) takes no calls. It
 * opens the store and runs start-up recovery once, then forks the workers (lib/cluster/worker.ts),
 * which share the Event Socket port through node:cluster (the primary accepts each connection and
 * hands it to the next worker in turn). What must exist once per service stays here: the owner's
 * services (notifications, voicemail transcripts, digest, retention, the console), the ops HTTP
 * server with every process's metrics merged, and the in-memory admission counters the workers
 * ask over IPC. SIGTERM drains every worker, then closes what is here.
 */
export async function serveCluster (config: Config, logger: Logger, count: number): Promise<number> {
  const metrics = new Metrics({ processMetrics: config.ops.processMetrics, processLabels: { worker: 'primary' } })
  // Migrations and recovery before any worker opens the file: a worker started later must never
  // mark its siblings' live calls interrupted.
  const store = await openCallStore(config.records, { logger, configDir: config.configDir, env: process.env, observer: metrics })
  const recovered = await store.recoverInterrupted()
  if (recovered > 0) logger.warn({ recovered }, 'records left open by a previous run marked interrupted')
  await recoverMessages(store, join(config.media.soundsDir, 'recordings'), logger)
  // Only the voicemail transcriber's recogniser is used here; the calls' speech is in the workers.
  const speech = await createSpeechServices(config, logger, { observer: metrics })
  const admission = config.guard.store.type === 'memory' ? createMemoryStore(config.guard.rates) : undefined
  let pool: WorkerPool | undefined
  const owner = await startOwnerServices(config, { store, stt: speech.stt, logger, env: process.env, liveCalls: () => pool?.live() ?? [] })
  let ops: OpsServer | undefined
  let state: 'running' | 'draining' = 'running'
  let stopping: Promise<number> | undefined

  const finalize = async (): Promise<void> => {
    await ops?.close()
    await owner.close()
    await speech.close()
    await closeProviderConnections()
    await admission?.close()
    await store.close()
  }
  const stop = async (reason: string): Promise<number> => {
    stopping ??= (async () => {
      state = 'draining'
      logger.info({ reason, activeCalls: pool?.activeCalls() ?? 0 }, 'shutting down; workers drain their calls')
      const code = await pool?.shutdown() ?? 0
      try {
        await finalize()
      } catch (err) {
        logger.error({ err }, 'shutdown finalize failed')
        return 1
      }
      logger.info({ exitCode: code }, 'shutdown complete')
      return code
    })()
    return await stopping
  }

  pool = new WorkerPool({
    count,
    logger,
    admission,
    onEnded: (uuid) => { owner.callEnded(uuid) },
    onLost: async (uuids) => {
      const marked = await store.interruptCalls(uuids)
      logger.warn({ calls: uuids, marked }, 'calls of a dead worker marked interrupted')
    },
    onCrashLoop: () => { exitWith(stop('workers keep dying').then(() => 1)) },
  })
  let resolveExit: (code: number) => void = () => {}
  const exited = new Promise<number>((resolve) => { resolveExit = resolve })
  const exitWith = (code: Promise<number>): void => { void code.then(resolveExit) }
  let signals = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second shutdown signal; exiting now')
      pool?.kill()
      resolveExit(1)
      return
    }
    exitWith(stop(signal))
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  try {
    await pool.start()
  } catch (err) {
    logger.error({ err }, 'a worker process failed to start; stopping')
    await stop('start-up failed')
    return 1
  }
  logger.info({ workers: count }, 'worker processes ready')
  if (config.ops.http.enabled) {
    const source = mergedMetrics(metrics, async () => await pool.collectMetrics())
    await startOpsServer({
      host: config.ops.http.host,
      port: config.ops.http.port,
      metrics: source,
      // liveCalls: calls with a record the primary knows of (the console's live view); a call is
      // counted in activeCalls from its connection, in liveCalls once its record has begun.
      health: () => ({ ok: state === 'running', activeCalls: pool.activeCalls(), liveCalls: pool.live().length, workers: pool.readyWorkers() }),
      console: owner.console,
      logger,
    }).then((s) => { ops = s }, (err: unknown) => { logger.error({ err }, 'ops HTTP server failed to start') })
  }
  const code = await exited
  process.off('SIGTERM', onSignal)
  process.off('SIGINT', onSignal)
  return code
}
