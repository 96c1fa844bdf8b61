import { parseArgs } from 'node:util'
import { configPath, loadConfigFile, type Config } from '../config/load.ts'
import { isPhoneAgentError } from '../errors.ts'
import { createLogger } from '../logger.ts'
import { toE164 } from '../numbers/e164.ts'
import { routeCall } from '../call/router.ts'
import { loadScripts } from '../call/script.ts'
import { routedScriptNames, startPhoneAgent } from '../app.ts'
import { createSpeechServices } from '../speech/services.ts'

const USAGE = `Usage: phone-agent <command> [options]

Commands:
  serve              Run the outbound Event Socket server (FreeSWITCH connects to it).
  check [--did N]    Validate the config, load every script, and show what a call to N would do.

Options:
  --config PATH      Config file (default: $PHONE_AGENT_CONFIG or ./phone-agent.yaml)
  --help             Show this help
`

export async function main (argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
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
  try {
    const config = await loadConfigFile(configPath(parsed.values.config, process.env))
    switch (command) {
      case 'check': return await check(config, parsed.values.did, out)
      case 'serve': return await serve(config)
      default:
        err.write(`unknown command "${command}"\n\n${USAGE}`)
        return 2
    }
  } catch (e) {
    if (isPhoneAgentError(e)) {
      err.write(`phone-agent: ${e.message}\n`)
      return 1
    }
    throw e
  }
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

async function serve (config: Config): Promise<number> {
  const logger = createLogger(config.logging.level)
  const speech = await createSpeechServices(config, logger)
  const agent = await startPhoneAgent(config, { logger, speaker: speech.speaker, stt: speech.stt, llm: speech.llm })
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve)
    process.once('SIGINT', resolve)
  })
  logger.info('shutting down: no new calls, waiting for calls in progress')
  await agent.stop()
  await speech.close()
  return 0
}
