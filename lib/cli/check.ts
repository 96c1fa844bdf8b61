import { describeVadEngine } from '../media/vad/index.ts'
import { describeMediaSockets } from '../media/stream/index.ts'
import { pino } from 'pino'
import type { Config } from '../config/load.ts'
import { routeCall } from '../call/router.ts'
import { createAdmissionGuard, createMemoryStore } from '../guard/index.ts'
import { callerAllowPrefixes } from '../guard/config.ts'
import { toE164 } from '../numbers/e164.ts'
import { parseCommandArgs, printWarnings, type Command } from './command.ts'
import { loadAndValidate } from './validate.ts'

export const CHECK_USAGE = `Usage: phone-agent check [--config PATH] [--did NUMBER] [--caller NUMBER] [--no-typecheck]

Validates everything serve would need, and lists every problem at once: the config file, the
environment variables it names, the files it points at, the scripts (loaded and type-checked)
and the providers they need. Then shows what a call would do.

  --did NUMBER      What happens when someone dials NUMBER (any form: 0212345678, +39...)
  --caller NUMBER   ...and calls from NUMBER: the guard's decision (admitted, or refused by which rule)
  --no-typecheck    Skip the TypeScript check of your scripts
  --config PATH     Config file (default: $PHONE_AGENT_CONFIG or ./phone-agent.yaml)

Exit code 0 when the config is usable (warnings may be printed), 1 when it is not.
`

export const checkCommand: Command = {
  usage: CHECK_USAGE,
  async run (argv, io) {
    const { values } = parseCommandArgs(argv, {
      config: { type: 'string' }, did: { type: 'string' }, caller: { type: 'string' }, 'no-typecheck': { type: 'boolean' },
    })
    const { config, warnings } = await loadAndValidate(values.config, { env: io.env, cwd: io.cwd, typecheck: values['no-typecheck'] !== true })
    const out = io.out
    out.write('config OK\n')
    printWarnings(out, warnings)
    out.write(`event socket: ${config.server.host}:${config.server.port}\n`)
    out.write(`sounds: ${config.media.soundsDir} (FreeSWITCH sees ${config.media.freeswitchSoundsDir})\n`)
    // Which voice-activity detector stream mode would run, and why not Silero if it was asked for.
    out.write(`${await describeVadEngine(config.media.stream.vad)}\n`)
    out.write(`${describeMediaSockets(config.media.stream)}\n`)
    const allow = config.guard.callers.allowPrefixes
    const home = callerAllowPrefixes({ callers: { ...config.guard.callers, allowPrefixes: undefined } }, config.numbers.defaultCountry)
    const note = allow.join() === home.join() ? `the default for numbers.defaultCountry ${config.numbers.defaultCountry}` : 'as configured'
    out.write(`callers admitted from: ${allow.join(', ')} (guard.callers.allowPrefixes, ${note})\n`)
    const dids = values.did === undefined ? (values.caller === undefined ? Object.keys(config.routes) : Object.keys(config.routes).slice(0, 1)) : [values.did]
    for (const d of dids) {
      const decision = routeCall(config, { destination: d })
      const e164 = toE164(d, config.numbers.defaultCountry) ?? '(not a number)'
      if (decision.found) {
        const r = decision.route
        out.write(`${d} -> ${e164}: script ${r.script}${decision.viaDefault ? ' (default route)' : ''}, language ${r.language ?? config.language}, media ${r.mediaMode ?? config.media.mode}\n`)
      } else {
        out.write(`${d} -> ${e164}: rejected with ${config.unknownDid.hangupCause} (${decision.reason})\n`)
      }
      if (values.caller !== undefined) out.write(await guardDecision(config, values.caller, decision.did))
    }
    if (config.defaultRoute && values.did === undefined) out.write(`any other number: script ${config.defaultRoute.script} (default route)\n`)
    return 0
  },
}

/** What the admission guard would say about this caller and DID, before any rate or capacity. */
async function guardDecision (config: Config, caller: string, did: string | undefined): Promise<string> {
  const logs: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { logs.push(JSON.parse(line) as Record<string, unknown>) } })
  const guard = createAdmissionGuard(config.guard, {
    defaultCountry: config.numbers.defaultCountry,
    servedDids: (d) => Object.hasOwn(config.routes, d) || config.defaultRoute !== undefined,
    logger,
    store: createMemoryStore(config.guard.rates),
  })
  try {
    // Typed by a person (`(201) 555-0199`): what a carrier would send is the plain number.
    const verdict = await guard.admit({ uuid: 'check', callerNumber: toE164(caller, config.numbers.defaultCountry) ?? caller, did })
    if (verdict.admitted) {
      verdict.release()
      return `  caller ${caller} -> admitted as ${verdict.caller}\n`
    }
    const logged = logs.find((l) => l.msg === 'call rejected')
    const rule = typeof logged?.rule === 'string' ? `; rule ${logged.rule}: ${(logged.prefixes as string[]).join(', ')}` : ''
    const detail = typeof logged?.detail === 'string' ? ` (${logged.detail})` : ''
    return `  caller ${caller} -> refused before answering: ${verdict.reason}${detail}${rule}; hangup cause ${verdict.hangupCause}\n`
  } finally {
    await guard.close()
  }
}
