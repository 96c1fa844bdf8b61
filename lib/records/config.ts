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
  /**
   * Voicemail transcripts: with an STT provider configured, each recorded message is transcribed
   * after its call (queued, retried; a call never waits for it) and the text kept with the message.
   */
  messageTranscripts: z.strictObject({
    enabled: z.boolean().default(true),
    attempts: z.number().int().min(1).max(20).default(3),
    /** BCP-47; the call's route language when absent. */
    language: z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'expected a language tag such as it-IT').optional(),
  }).prefault({}),
})

export type RecordsConfig = z.infer<typeof recordsSchema>
