import { loadConfigFile, configPath } from '../config/load.ts'
import { createLogger } from '../ops/logger.ts'
import { toE164 } from '../numbers/e164.ts'
import { openCallStore } from '../records/open.ts'
import { MessageTable, purgedAt } from '../records/owner-sql.ts'
import { CALLS_USAGE, runCallsCommand } from './calls.ts'
import type { Command } from './command.ts'

/**
 * `phone-agent calls`: reads the records the config points at. Only the file and its schema are
 * checked (not scripts or providers): reading records must work even while a script is broken.
 */
export const callsCommand: Command = {
  usage: CALLS_USAGE,
  async run (argv, io) {
    const i = argv.indexOf('--config')
    const path = i < 0 ? undefined : argv[i + 1]
    const rest = i < 0 ? [...argv] : [...argv.slice(0, i), ...argv.slice(i + 2)]
    const config = await loadConfigFile(configPath(path, io.env, io.cwd))
    const store = await openCallStore(config.records, { logger: createLogger('warn'), configDir: config.configDir, env: io.env })
    try {
      return await runCallsCommand(rest, {
        store, out: io.out, err: io.err, normalizeNumber: (n) => toE164(n, config.numbers.defaultCountry),
        messageExtras: async (uuid) => await new MessageTable(store.sql).extras(uuid),
        purgedAt: async (uuid) => await purgedAt(store.sql, uuid),
      })
    } finally {
      await store.close()
    }
  },
}
