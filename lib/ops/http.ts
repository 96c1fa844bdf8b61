import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import type { MetricsSource } from './metrics.ts'

export interface HealthStatus {
  /** False while shutting down, so a load balancer or orchestrator stops sending calls. */
  readonly ok: boolean
  readonly [detail: string]: unknown
}

export interface OpsServerOptions {
  readonly host: string
  /** 0 picks a free port (tests). */
  readonly port: number
  readonly metrics: MetricsSource
  readonly health: () => HealthStatus
  readonly logger: Logger
  /** The web console (lib/console): answers `/console...` paths, resolves false for others. */
  readonly console?: ((req: IncomingMessage, res: ServerResponse) => Promise<boolean>) | undefined
}

export interface OpsServer {
  readonly port: number
  readonly url: string
  close (): Promise<void>
}

/** `/healthz` (JSON, 200 or 503) and `/metrics` (Prometheus text) on a local port. */
export async function startOpsServer (options: OpsServerOptions): Promise<OpsServer> {
  const log = options.logger.child({ component: 'ops-http' })
  const server = createServer((req, res) => {
    handle(req, res, options).catch((err: unknown) => {
      log.error({ err, path: req.url }, 'ops request failed')
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('internal error\n')
    })
  })
  // Scrapers keep connections open; do not let one hold the process at shutdown.
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  server.on('error', (err) => { log.error({ err }, 'ops server error') })
  const port = (server.address() as AddressInfo).port
  const host = options.host.includes(':') ? `[${options.host}]` : options.host
  log.info({ host: options.host, port }, 'ops server listening')
  return {
    port,
    url: `http://${host}:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => { resolve() })
        server.closeAllConnections()
      })
    },
  }
}

async function handle (req: IncomingMessage, res: ServerResponse, options: OpsServerOptions): Promise<void> {
  if (options.console !== undefined && await options.console(req, res)) return
  const path = (req.url ?? '/').split('?')[0]
  if (path !== '/healthz' && path !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n')
    return
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n')
    return
  }
  const body = path === '/healthz'
    ? healthBody(options.health())
    : { status: 200, type: options.metrics.contentType, text: await options.metrics.render() }
  res.writeHead(body.status, { 'content-type': body.type, 'cache-control': 'no-store' })
  res.end(req.method === 'HEAD' ? undefined : body.text)
}

function healthBody (health: HealthStatus): { status: number, type: string, text: string } {
  return { status: health.ok ? 200 : 503, type: 'application/json', text: JSON.stringify({ status: health.ok ? 'ok' : 'unavailable', ...health }) + '\n' }
}
