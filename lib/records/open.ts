import { hostname } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import type { Logger } from 'pino'
import { ConfigError } from '../errors.ts'
import type { RecordsConfig } from './config.ts'
import { openPgDriver } from './pg-driver.ts'
import { openSqliteDriver } from './sqlite-driver.ts'
import { openSqlCallStore } from './store.ts'
import type { CallObserver, CallStore } from './types.ts'

export const SQLITE_FILE = 'calls.db'

export interface OpenCallStoreDeps {
  readonly logger: Logger
  /** Directory of the config file: a relative `dataDir` is taken from here. */
  readonly configDir: string
  readonly env: NodeJS.ProcessEnv
  readonly observer?: CallObserver | undefined
}

/** The SQLite file a config points at (absolute). */
export function sqlitePath (config: RecordsConfig, configDir: string): string {
  const dir = isAbsolute(config.dataDir) ? config.dataDir : resolve(configDir, config.dataDir)
  return join(dir, SQLITE_FILE)
}

/** Opens the configured store and applies pending migrations. Does not run recovery. */
export async function openCallStore (config: RecordsConfig, deps: OpenCallStoreDeps): Promise<CallStore> {
  const logger = deps.logger.child({ component: 'records' })
  const instance = config.instance ?? hostname()
  if (config.driver === 'sqlite') {
    return await openSqlCallStore({
      driver: openSqliteDriver(sqlitePath(config, deps.configDir)),
      instance, logger, observer: deps.observer, maxQueuedWrites: config.maxQueuedWrites,
    })
  }
  const url = deps.env[config.postgres.urlEnv]
  if (url === undefined || url === '') {
    throw new ConfigError('records.postgres.urlEnv', `environment variable ${config.postgres.urlEnv} is not set (expected postgres://user:password@host/db)`)
  }
  const driver = openPgDriver({
    connectionString: url,
    poolMax: config.postgres.poolMax,
    onIdleError: (err) => { logger.warn({ err }, 'idle PostgreSQL connection failed') },
  })
  try {
    return await openSqlCallStore({ driver, instance, logger, observer: deps.observer, maxQueuedWrites: config.maxQueuedWrites })
  } catch (err) {
    if (err instanceof ConfigError || (err as { code?: unknown }).code === 'CONFIG_INVALID') throw err
    // The message names the variable, never the URL: it carries the password.
    throw new ConfigError('records.postgres.urlEnv', `cannot open the PostgreSQL database from ${config.postgres.urlEnv}: ${(err as Error).message}`, { cause: err })
  }
}
