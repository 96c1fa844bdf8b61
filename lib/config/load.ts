import { readFile } from 'node:fs/promises'
import { dirname, isAbsolute, resolve } from 'node:path'
import { isIP } from 'node:net'
import { parse as parseYaml } from 'yaml'
import { ConfigError } from '../errors.ts'
import { toE164 } from '../numbers/e164.ts'
import { BUILTIN_SCRIPTS } from '../scripts/builtin.ts'
import { numbersInDialString } from '../call/dial-string.ts'
import { createDialGuard } from '../guard/dial.ts'
import { callerAllowPrefixes } from '../guard/config.ts'
import { configSchema, type ParsedConfig } from './schema.ts'
import type { RouteConfig } from '../call/config.ts'
import { ConfigProblems, ProblemList, problemsFromZod, throwIfProblems } from './problems.ts'
import { didYouMean, unknownNameMessage } from '../suggest.ts'
import { realtimeProblems } from '../realtime/config.ts'

/** The validated config with paths made absolute and DIDs normalised to E.164. */
export interface Config extends ParsedConfig {
  /** Directory of the config file; relative paths in it are taken from here. */
  readonly configDir: string
  /** `guard.callers.allowPrefixes` resolved: the configured list, else the home country's code. */
  readonly guard: ParsedConfig['guard'] & { callers: ParsedConfig['guard']['callers'] & { allowPrefixes: string[] } }
  readonly media: ParsedConfig['media'] & { soundsDir: string, freeswitchSoundsDir: string }
  /** script name -> absolute module path (built-ins and `scripts:` entries). */
  readonly scriptModules: Readonly<Record<string, string>>
}

export const DEFAULT_CONFIG_FILE = 'phone-agent.yaml'

/** Where the config comes from: an explicit path, `PHONE_AGENT_CONFIG`, or ./phone-agent.yaml (from `cwd`). */
export function configPath (explicit: string | undefined, env: NodeJS.ProcessEnv, cwd = process.cwd()): string {
  return resolve(cwd, explicit ?? env.PHONE_AGENT_CONFIG ?? DEFAULT_CONFIG_FILE)
}

/**
 * Read, parse and validate the config file. `adjust` may change the parsed object before it is
 * validated (command-line overrides such as `serve --port`), so overrides are checked the same way.
 */
export async function loadConfigFile (path: string, adjust?: (raw: unknown) => unknown): Promise<Config> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError('(file)', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` +
      ' (copy phone-agent.example.yaml to phone-agent.yaml, or pass --config)', { cause: err })
  }
  let raw: unknown
  try {
    raw = parseYaml(text)
  } catch (err) {
    throw new ConfigError('(file)', `${path} is not valid YAML/JSON: ${(err as Error).message}`, { cause: err })
  }
  const value = raw ?? {}
  return buildConfig(adjust === undefined ? value : adjust(value), dirname(path))
}

/**
 * Validate an already-parsed config object: the schema, then the checks that need several
 * fields at once. Every problem is collected and thrown together (ConfigProblems), so a user
 * fixes them in one pass. Exported for tests and for in-process servers; `validateConfig()`
 * adds the checks that look outside the file (environment, files, scripts).
 */
export function buildConfig (raw: unknown, configDir: string): Config {
  const result = configSchema.safeParse(raw)
  if (!result.success) throw new ConfigProblems(problemsFromZod(result.error.issues, configSchema, raw))
  const parsed = result.data
  const problems = new ProblemList()

  if (!parsed.server.allowRemote && !isLoopback(parsed.server.host)) {
    problems.add('server.host', `${parsed.server.host} is not a loopback address; the Event Socket controls calls, ` +
      'so binding it elsewhere needs server.allowRemote: true (and a firewall)')
  }

  const abs = (p: string): string => isAbsolute(p) ? p : resolve(configDir, p)
  const soundsDir = abs(parsed.media.soundsDir)
  const media = { ...parsed.media, soundsDir, freeswitchSoundsDir: parsed.media.freeswitchSoundsDir ?? soundsDir }

  // Paths go into ESL headers; and in files mode FreeSWITCH splits `record PATH MAX THRESH HITS`
  // on spaces, so a path with blanks would break recording.
  const filesMode = [parsed.media.mode, ...Object.values(parsed.routes).map((r) => r.mediaMode), parsed.defaultRoute?.mediaMode].includes('files')
  for (const [field, dir] of [['media.soundsDir', media.soundsDir], ['media.freeswitchSoundsDir', media.freeswitchSoundsDir]] as const) {
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(dir)) problems.add(field, 'must not contain control characters')
    else if (filesMode && /\s/.test(dir)) problems.add(field, 'must not contain spaces in files media mode (FreeSWITCH splits record arguments on spaces)')
  }

  const scriptModules: Record<string, string> = { ...BUILTIN_SCRIPTS }
  for (const [name, s] of Object.entries(parsed.scripts)) scriptModules[name] = abs(s.module)

  const routes: Record<string, RouteConfig> = {}
  for (const [did, route] of Object.entries(parsed.routes)) {
    const e164 = toE164(did, parsed.numbers.defaultCountry)
    checkScriptName(problems, `routes.${did}.script`, route.script, scriptModules)
    if (e164 === undefined) {
      problems.add(`routes.${did}`, `is not a phone number (read with numbers.defaultCountry ${parsed.numbers.defaultCountry})`)
      continue
    }
    if (routes[e164] !== undefined) {
      problems.add(`routes.${did}`, `is the same number as another route (${e164})`)
      continue
    }
    routes[e164] = route
  }
  if (parsed.defaultRoute) checkScriptName(problems, 'defaultRoute.script', parsed.defaultRoute.script, scriptModules)
  // The conversation mode of each route: a known mode, valid realtime overrides, stream media.
  for (const p of realtimeProblems(parsed)) problems.add(p.field, p.message)

  // Plain-text gRPC would send audio and credentials in clear: allowed for a loopback fake only.
  for (const [field, g] of [['speech.stt.google', parsed.speech.stt.google], ['speech.tts.google', parsed.speech.tts.google]] as const) {
    if (g.insecure && !isLoopback(g.apiEndpoint ?? '')) {
      problems.add(`${field}.insecure`, 'plain-text gRPC is only allowed with a loopback apiEndpoint (127.0.0.1, ::1, localhost)')
    }
  }

  const stream = parsed.media.stream
  if (!isLoopback(stream.freeswitchAddress) && stream.freeswitchPorts === undefined) {
    problems.add('media.stream.freeswitchPorts', 'FreeSWITCH runs on another host: give the UDP port range it may bind for unicast')
  }
  // Each worker takes its own share of the range (lib/cluster/slot.ts).
  const workers = parsed.server.workers
  if (stream.freeswitchPorts !== undefined && typeof workers === 'number' && stream.freeswitchPorts.max - stream.freeswitchPorts.min + 1 < workers) {
    problems.add('media.stream.freeswitchPorts', `fewer ports than server.workers (${workers}): each worker uses its own share of the range`)
  }

  // Callers from the operator's own country by default: a default naming other countries would
  // refuse a newcomer's every call with no hint why (the guard logs the rule when it refuses).
  const guard = {
    ...parsed.guard,
    callers: { ...parsed.guard.callers, allowPrefixes: callerAllowPrefixes(parsed.guard, parsed.numbers.defaultCountry) },
  }

  // Every external number a transfer can ring passes the dial guard now, not mid-call.
  const dial = createDialGuard(guard, { defaultCountry: parsed.numbers.defaultCountry })
  for (const [name, target] of Object.entries(parsed.transfers)) {
    if (target.type !== 'endpoint') continue
    let numbers: string[]
    try {
      numbers = numbersInDialString(target.dialString)
    } catch (err) {
      problems.add(`transfers.${name}.dialString`, (err as Error).message)
      continue
    }
    for (const number of numbers) {
      const verdict = dial.verdict(number)
      if (!verdict.allowed) {
        const hint = verdict.reason === 'country_not_allowed' ? ` (guard.outbound.allowPrefixes: ${guard.outbound.allowPrefixes.join(', ')})` : ''
        problems.add(`transfers.${name}.dialString`, `${number} may not be dialled (${verdict.reason})${hint}`)
      }
    }
  }

  // The agent's transfer targets must name configured transfers (checked again when it starts).
  const targets = Object.keys(parsed.transfers)
  const checkTarget = (field: string, name: string | undefined): void => {
    if (name !== undefined && !Object.hasOwn(parsed.transfers, name)) problems.add(field, unknownNameMessage('transfer target', name, targets, 'transfers:'))
  }
  checkTarget('agent.transfers.human', parsed.agent.transfers.human)
  checkTarget('agent.transfers.afterHours', parsed.agent.transfers.afterHours)
  parsed.agent.transfers.offered?.forEach((name, i) => { checkTarget(`agent.transfers.offered.${i}`, name) })

  throwIfProblems(problems.items)
  return { ...parsed, guard, configDir, media, routes, scriptModules }
}

function checkScriptName (problems: ProblemList, field: string, name: string, modules: Record<string, string>): void {
  if (modules[name] === undefined) {
    const custom = Object.keys(modules).filter((n) => !Object.hasOwn(BUILTIN_SCRIPTS, n))
    problems.add(field, `unknown script "${name}"${didYouMean(name, Object.keys(modules))}; built-in: ${Object.keys(BUILTIN_SCRIPTS).join(', ')}; ` +
      `${custom.length > 0 ? `under scripts: ${custom.join(', ')}` : 'or add it under scripts:'}`)
  }
}

function isLoopback (host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1'
  return false
}
