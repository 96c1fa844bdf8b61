import { z } from 'zod'

/**
 * The web console (`console:`), served by the ops HTTP server under `/console`. On loopback it
 * needs no login; bound anywhere else, the token from `tokenEnv` is required and the service
 * refuses to start without it.
 */
export const consoleSchema = z.strictObject({
  enabled: z.boolean().default(true),
  tokenEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').default('PHONE_AGENT_CONSOLE_TOKEN'),
  /** IANA zone for shown times; the machine's when absent. */
  timeZone: z.string().optional(),
})

export type ConsoleConfig = z.infer<typeof consoleSchema>
