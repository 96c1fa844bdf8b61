import { isIP } from 'node:net'
import { z } from 'zod'

/** Operations settings (`ops:` in the config file): the metrics/health port and shutdown. */
export const opsHttpSchema = z.strictObject({
  enabled: z.boolean().default(true),
  host: z.string().min(1).default('127.0.0.1'),
  /** 9464 is the port Prometheus exporters conventionally use for OpenTelemetry-style metrics. */
  port: z.number().int().min(1).max(65535).default(9464),
  /** Metrics reveal call volumes and numbers of callers: exposing them must be a decision. */
  allowRemote: z.boolean().default(false),
}).refine((http) => http.allowRemote || isLoopback(http.host), {
  message: 'is not a loopback address; set ops.http.allowRemote: true to expose /metrics and /healthz',
  path: ['host'],
})

export const opsSchema = z.strictObject({
  http: opsHttpSchema.default({ enabled: true, host: '127.0.0.1', port: 9464, allowRemote: false }),
  /**
   * On SIGTERM, how long calls may go on before they are asked to end. Keep the systemd
   * unit's TimeoutStopSec above this plus a few seconds for the goodbyes.
   */
  shutdownDeadlineSeconds: z.number().positive().max(3600).default(30),
  /** Also export Node process metrics (CPU, memory, event-loop lag). */
  processMetrics: z.boolean().default(true),
})

export type OpsConfig = z.infer<typeof opsSchema>

export function isLoopback (host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  return host === '::1'
}
