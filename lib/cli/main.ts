import { parseArgs } from 'node:util'
import { buildConfig, configPath, loadConfigFile, type Config } from '../config/load.ts'
import { isPhoneAgentError } from '../errors.ts'
import { createLogger } from '../ops/logger.ts'
import { toE164 } from '../numbers/e164.ts'
import { routeCall } from '../call/router.ts'
import { loadScripts } from '../call/script.ts'
import { routedScriptNames } from '../app.ts'
import { openCallStore } from '../records/open.ts'
import { runCallsCommand } from './calls.ts'
import { serve } from './serve.ts'
import { CALL_USAGE, runCallCommand } from './call.ts'
import { doctorCommand } from './doctor.ts'

const USAGE = `Usage: phone-agent <command> [options]

Commands:
  serve              Run the outbound Event Socket server (FreeSWITCH connects to it).
  check [--did N]    Validate the config, load every script, and show what a call to N would do.
  calls ...          List and show call records (phone-agent calls --help).
  call ...           Place a simulated call (phone-agent call --help).
  demo               A simulated call to the built-in take-message script, no accounts needed.
  doctor             Check the live FreeSWITCH through its inbound Event Socket (phone-agent doctor --help).

Options:
  --config PATH      Config file (default: $PHONE_AGENT_CONFIG or ./phone-agent.yaml)
  --help             Show this help
`

export async function main (argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  // `calls` has options of its own; peel off --config first and hand it the rest.
  if (argv[0] === 'calls') return await callsCommand(argv.slice(1), out, err)
  if (argv[0] === 'call') return await callCommand(argv.slice(1), out, err)
  if (argv[0] === 'demo') return await demo(argv.slice(1), out, err)
  if (argv[0] === 'doctor') {
    try {
      return await doctorCommand.run(argv.slice(1), { out, err, env: process.env })
    } catch (e) {
      if (isPhoneAgentError(e)) { err.write(`phone-agent: ${e.message}\n`); return 1 }
      throw e
    }
  }
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

/** `--config PATH` out of an argv that also holds a sub-command's own options. */
function takeConfig (argv: string[]): { path: string | undefined, rest: string[] } {
  const i = argv.indexOf('--config')
  return i < 0 ? { path: undefined, rest: argv } : { path: argv[i + 1], rest: [...argv.slice(0, i), ...argv.slice(i + 2)] }
}

async function callCommand (argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { path, rest } = takeConfig(argv)
  if (rest.includes('--help')) { out.write(CALL_USAGE); return 0 }
  return await withConfig(path, err, async (config) => await placeCall(config, rest, out))
}

async function placeCall (config: Config, argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const logger = createLogger(process.env.PHONE_AGENT_LOG_LEVEL ?? 'warn')
  const store = await openCallStore(config.records, { logger, configDir: config.configDir, env: process.env })
  try {
    return await runCallCommand(argv, { config, logger, out, store })
  } finally {
    await store.close()
  }
}

/**
 * The quick-start demo: the built-in take-message script on a simulated line, the caller's
 * words spoken by the offline voice, the conversation written to demo-call.wav. No config file,
 * no accounts, no FreeSWITCH.
 */
async function demo (argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  try {
    const config = buildConfig({
      language: 'en-US',
      routes: { '+390212345678': { script: 'take-message', options: { maxSeconds: 30 } } },
      media: { soundsDir: 'sounds' },
      records: { dataDir: 'data' },
      logging: { level: 'warn' },
    }, process.cwd())
    out.write('Demo: a caller leaves a message with the built-in take-message script (offline voice, simulated FreeSWITCH).\n\n')
    return await placeCall(config, ['--to', '+390212345678', '--from', '+393331234567', '--name', 'Mario Rossi',
      '--say', 'Hello, this is Mario Rossi from Rossi Plumbing. Please call me back about the invoice. My number is three three three, one two three, four five six seven. Thank you.',
      '--out', 'demo-call.wav', ...argv], out)
  } catch (e) {
    if (isPhoneAgentError(e)) { err.write(`phone-agent: ${e.message}\n`); return 1 }
    throw e
  }
}

async function callsCommand (argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { path, rest } = takeConfig(argv)
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
