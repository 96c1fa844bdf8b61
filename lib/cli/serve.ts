import type { Config } from '../config/load.ts'
import { createLogger } from '../ops/logger.ts'
import { Metrics } from '../ops/metrics.ts'
import { startOpsServer, type OpsServer } from '../ops/http.ts'
import { ShutdownController } from '../ops/shutdown.ts'
import { openCallStore } from '../records/open.ts'
import { createSpeechServices } from '../speech/services.ts'
import { startPhoneAgent } from '../app.ts'

/**
 * `phone-agent serve`: records, metrics, speech, then the Event Socket; SIGTERM drains calls
 * up to the configured deadline, hangs up the rest, closes storage and exits.
 */
export async function serve (config: Config): Promise<number> {
  const logger = createLogger(config.logging.level)
  const metrics = new Metrics({ processMetrics: config.ops.processMetrics })
  const store = await openCallStore(config.records, { logger, configDir: config.configDir, env: process.env, observer: metrics })
  const recovered = await store.recoverInterrupted()
  if (recovered > 0) logger.warn({ recovered }, 'records left open by a previous run marked interrupted')
  const speech = await createSpeechServices(config, logger)
  const agent = await startPhoneAgent(config, { logger, speaker: speech.speaker, stt: speech.stt, llm: speech.llm, records: store })
  let ops: OpsServer | undefined
  const exited = new Promise<number>((resolve) => {
    const shutdown = new ShutdownController({
      target: {
        stopAccepting: async () => { await agent.server.stopAccepting() },
        activeCalls: () => agent.server.activeCalls(),
        endAll: async (reason) => { await agent.server.endAll(reason) },
      },
      deadlineMs: config.ops.shutdownDeadlineSeconds * 1000,
      logger,
      finalize: async () => {
        await ops?.close()
        await speech.close()
        await store.close()
      },
      exit: resolve,
    })
    shutdown.install(process)
    if (config.ops.http.enabled) {
      void startOpsServer({
        host: config.ops.http.host,
        port: config.ops.http.port,
        metrics,
        health: () => ({ ok: shutdown.state === 'running', activeCalls: agent.server.activeCalls() }),
        logger,
      }).then((s) => { ops = s }, (err: unknown) => { logger.error({ err }, 'ops HTTP server failed to start') })
    }
  })
  return await exited
}
