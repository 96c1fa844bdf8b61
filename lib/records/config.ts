import { z } from 'zod'

/**
 * Call record storage (`records:` in the config file). The PostgreSQL URL holds a password, so
 * the config names the environment variable that carries it, never the URL itself.
 */
export const recordsSchema = z.strictObject({
  driver: z.enum(['sqlite', 'postgres']).default('sqlite'),
  /** SQLite: the database is `<dataDir>/calls.db`; relative to the config file. */
  dataDir: z.string().min(1).default('data'),
  postgres: z.strictObject({
    urlEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').default('PHONE_AGENT_DATABASE_URL'),
    poolMax: z.number().int().min(1).max(100).default(5),
  }).default({ urlEnv: 'PHONE_AGENT_DATABASE_URL', poolMax: 5 }),
  /**
   * This process's name on its records. With PostgreSQL each instance needs a distinct, stable
   * one: start-up recovery marks only its own open records interrupted. Default: the host name.
   */
  instance: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/).optional(),
  /** Writes held while storage is slow or down before new ones are dropped (and logged). */
  maxQueuedWrites: z.number().int().min(100).default(10_000),
})

export type RecordsConfig = z.infer<typeof recordsSchema>
