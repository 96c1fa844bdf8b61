import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import type { Config } from '../config/load.ts'
import type { Logger } from 'pino'
import { sharedSocketStats } from '../media/stream/index.ts'
import { Metrics } from '../ops/metrics.ts'
import { startOpsServer, type OpsServer } from '../ops/http.ts'
import { ShutdownController } from '../ops/shutdown.ts'
import { openCallStore } from '../records/open.ts'
import { recoverMessages } from '../records/recover-messages.ts'
import { createSpeechServices } from '../speech/services.ts'
import { closeProviderConnections } from '../providers/openai-client.ts'
import { startPhoneAgent } from '../app.ts'
import { parseCommandArgs, type Command } from './command.ts'
import { serviceLogger } from './log-output.ts'
import { loadAndValidate } from './validate.ts'
import { serveCluster } from '../cluster/primary.ts'
import { serveWorker } from '../cluster/worker.ts'

export const SERVE_USAGE = `Usage: phone-agent serve [--config PATH] [--port N] [--host ADDRESS]

Runs the outbound Event Socket server FreeSWITCH connects to (dialplan: socket 127.0.0.1:8084
async full). The config is validated first exactly as \`phone-agent check\` does; any problem
stops start-up with the same message. SIGTERM or Ctrl-C drains calls and exits.

  --port N          Listen on this port instead of server.port (0 picks a free one)
  --host ADDRESS    Listen on this address instead of server.host (loopback unless server.allowRemote)
  --config PATH     Config file (default: $PHONE_AGENT_CONFIG or ./phone-agent.yaml)

Logs are readable lines on a terminal and JSON lines otherwise (PHONE_AGENT_LOG_FORMAT=json|pretty,
PHONE_AGENT_LOG_LEVEL=debug to override logging.level).

With server.workers above 1 this process forks that many worker processes, which share the port
and take the calls; it keeps the records' start-up recovery, the owner's services, the console and
/metrics (docs/operations.md, "Worker processes").
`

export const serveCommand: Command = {
  usage: SERVE_USAGE,
  async run (argv, io) {
    try {
      return await runServe(argv, io)
    } finally {
      // A worker's IPC channel would keep it alive after a failed start, and the primary waiting.
      if (cluster.isWorker && process.connected) process.disconnect()
    }
  },
}

async function runServe (argv: readonly string[], io: Parameters<Command['run']>[1]): Promise<number> {
  const { values } = parseCommandArgs(argv, { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } })
  const overrides: Record<string, unknown> = {}
  if (values.port !== undefined) {
    const port = Number(values.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535) { io.err.write(`phone-agent: --port ${values.port} is not a port number\n`); return 2 }
    overrides.port = port
  }
  if (values.host !== undefined) overrides.host = values.host
  const { config, warnings } = await loadAndValidate(values.config, {
    env: io.env,
    cwd: io.cwd,
    ...(Object.keys(overrides).length > 0 ? { adjust: (raw) => withServer(raw, overrides) } : {}),
  })
  const logger = serviceLogger(config.logging.level, io.env, process.stdout, { maskCallerNumbers: config.privacy.maskCallerNumbers })
  // A worker process (server.workers > 1) re-runs this command with the same arguments.
  if (cluster.isWorker) return await serveWorker(config, logger)
  for (const w of warnings) logger.warn({ field: w.field }, w.message)
  const workers = workerCount(config.server.workers)
  return workers > 1 ? await serveCluster(config, logger, workers) : await serve(config, logger)
}

/** `server.workers`: a number, or `auto` for one per CPU the process may use. */
export function workerCount (workers: number | 'auto'): number {
  return workers === 'auto' ? availableParallelism() : workers
}

/** The raw config with `server:` overridden, validated like the rest (a --host must be loopback too). */
function withServer (raw: unknown, server: Record<string, unknown>): unknown {
  const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>
  const current = typeof r.server === 'object' && r.server !== null ? r.server as Record<string, unknown> : {}
  return { ...r, server: { ...current, ...server } }
}

/**
 * `phone-agent serve`: records, metrics, speech, then the Event Socket; SIGTERM drains calls
 * up to the configured deadline, hangs up the rest, closes storage and exits.
 */
export async function serve (config: Config, logger: Logger): Promise<number> {
  const metrics = new Metrics({ processMetrics: config.ops.processMetrics })
  const store = await openCallStore(config.records, { logger, configDir: config.configDir, env: process.env, observer: metrics })
  const recovered = await store.recoverInterrupted()
  if (recovered > 0) logger.warn({ recovered }, 'records left open by a previous run marked interrupted')
  // Messages a crash cut short: headers repaired, rows pointed at the files (docs/scripts.md).
  await recoverMessages(store, join(config.media.soundsDir, 'recordings'), logger)
  const speech = await createSpeechServices(config, logger, { observer: metrics })
  const agent = await startPhoneAgent(config, { logger, speaker: speech.speaker, stt: speech.stt, llm: speech.llm, records: store, store })
  agent.server.onHandshakeFailed(({ reason }) => { metrics.handshakeFailed(reason) })
  metrics.mediaSocket(sharedSocketStats)
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
        // The calls are over (drained or hung up): what the agent started goes too (the Silero
        // VAD's worker thread, the admission store, contact file watchers, the owner's console);
        // any of them left open keeps the process alive after "shutdown complete".
        await agent.stop(0)
        await speech.close()
        await closeProviderConnections()
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
        console: agent.owner?.console,
        logger,
      }).then((s) => { ops = s }, (err: unknown) => { logger.error({ err }, 'ops HTTP server failed to start') })
    }
  })
  return await exited
}
