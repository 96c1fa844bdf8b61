import { parseArgs } from 'node:util'
import { configPath, loadConfigFile, type Config } from '../config/load.ts'
import { isPhoneAgentError } from '../errors.ts'
import { createLogger } from '../ops/logger.ts'
import { toE164 } from '../numbers/e164.ts'
import { routeCall } from '../call/router.ts'
import { loadScripts } from '../call/script.ts'
import { routedScriptNames } from '../app.ts'
import { openCallStore } from '../records/open.ts'
import { runCallsCommand } from './calls.ts'
import { serve } from './serve.ts'

const USAGE = `Usage: phone-agent <command> [options]

Commands:
  serve              Run the outbound Event Socket server (FreeSWITCH connects to it).
  check [--did N]    Validate the config, load every script, and show what a call to N would do.
  calls ...          List and show call records (phone-agent calls --help).

Options:
  --config PATH      Config file (default: $PHONE_AGENT_CONFIG or ./phone-agent.yaml)
  --help             Show this help
`

export async function main (argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  // `calls` has options of its own; peel off --config first and hand it the rest.
  if (argv[0] === 'calls') return await callsCommand(argv.slice(1), out, err)
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { config: { type: 'string' }, did: { type: 'string' }, help: { type: 'boolean' } },
    })
  } catch (e) {
    err.write(`${(e as Error).message}\n\n${USAGE}`)
    return 2
  }
  const [command] = parsed.positionals
  if (parsed.values.help || command === undefined) {
    out.write(USAGE)
    return command === undefined && !parsed.values.help ? 2 : 0
  }
  return await withConfig(parsed.values.config, err, async (config) => {
    switch (command) {
      case 'check': return await check(config, parsed.values.did, out)
      case 'serve': return await serve(config)
      default:
        err.write(`unknown command "${command}"\n\n${USAGE}`)
        return 2
    }
  })
}

/** Load the config and run `fn`; our own errors become one line on stderr and exit code 1. */
async function withConfig (path: string | undefined, err: NodeJS.WritableStream, fn: (config: Config) => Promise<number>): Promise<number> {
  try {
    return await fn(await loadConfigFile(configPath(path, process.env)))
  } catch (e) {
    if (isPhoneAgentError(e)) {
      err.write(`phone-agent: ${e.message}\n`)
      return 1
    }
    throw e
  }
}

async function callsCommand (argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const i = argv.indexOf('--config')
  const path = i >= 0 ? argv[i + 1] : undefined
  const rest = i >= 0 ? [...argv.slice(0, i), ...argv.slice(i + 2)] : argv
  return await withConfig(path, err, async (config) => {
    const store = await openCallStore(config.records, { logger: createLogger('warn'), configDir: config.configDir, env: process.env })
    try {
      return await runCallsCommand(rest, {
        store, out, err, normalizeNumber: (n) => toE164(n, config.numbers.defaultCountry),
      })
    } finally {
      await store.close()
    }
  })
}

async function check (config: Config, did: string | undefined, out: NodeJS.WritableStream): Promise<number> {
  await loadScripts(config.scriptModules, routedScriptNames(config))
  out.write(`config OK\n`)
  out.write(`event socket: ${config.server.host}:${config.server.port}\n`)
  out.write(`sounds: ${config.media.soundsDir} (FreeSWITCH sees ${config.media.freeswitchSoundsDir})\n`)
  const dids = did === undefined ? Object.keys(config.routes) : [did]
  if (dids.length === 0 && !config.defaultRoute) out.write('no routes configured: every call will be rejected\n')
  for (const d of dids) {
    const decision = routeCall(config, { destination: d })
    const e164 = toE164(d, config.numbers.defaultCountry) ?? '(not a number)'
    if (decision.found) {
      const r = decision.route
      out.write(`${d} -> ${e164}: script ${r.script}${decision.viaDefault ? ' (default route)' : ''}, language ${r.language ?? config.language}, media ${r.mediaMode ?? config.media.mode}\n`)
    } else {
      out.write(`${d} -> ${e164}: rejected with ${config.unknownDid.hangupCause} (${decision.reason})\n`)
    }
  }
  if (config.defaultRoute && did === undefined) out.write(`any other number: script ${config.defaultRoute.script} (default route)\n`)
  return 0
}
