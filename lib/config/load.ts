import { readFile } from 'node:fs/promises'
import { dirname, isAbsolute, resolve } from 'node:path'
import { isIP } from 'node:net'
import { parse as parseYaml } from 'yaml'
import { ConfigError } from '../errors.ts'
import { toE164 } from '../numbers/e164.ts'
import { BUILTIN_SCRIPTS } from '../scripts/builtin.ts'
import { numberInDialString } from '../call/dial-string.ts'
import { createDialGuard } from '../guard/dial.ts'
import { checkAgentTargets } from '../agent/config.ts'
import { configSchema, type ParsedConfig, type RouteConfig } from './schema.ts'

/** The validated config with paths made absolute and DIDs normalised to E.164. */
export interface Config extends ParsedConfig {
  /** Directory of the config file; relative paths in it are taken from here. */
  readonly configDir: string
  readonly media: ParsedConfig['media'] & { soundsDir: string, freeswitchSoundsDir: string }
  /** script name -> absolute module path (built-ins and `scripts:` entries). */
  readonly scriptModules: Readonly<Record<string, string>>
}

export const DEFAULT_CONFIG_FILE = 'phone-agent.yaml'

/** Where the config comes from: an explicit path, `PHONE_AGENT_CONFIG`, or ./phone-agent.yaml. */
export function configPath (explicit: string | undefined, env: NodeJS.ProcessEnv): string {
  return resolve(explicit ?? env.PHONE_AGENT_CONFIG ?? DEFAULT_CONFIG_FILE)
}

export async function loadConfigFile (path: string): Promise<Config> {
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
  return buildConfig(raw ?? {}, dirname(path))
}

/** Validate an already-parsed config object. Exported for tests and for in-process servers. */
export function buildConfig (raw: unknown, configDir: string): Config {
  const result = configSchema.safeParse(raw)
  if (!result.success) {
    const first = result.error.issues[0]
    const field = first?.path.map(String).join('.') || '(root)'
    const others = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more problem(s))` : ''
    throw new ConfigError(field, `${first?.message ?? 'invalid'}${others}`)
  }
  const parsed = result.data

  if (!parsed.server.allowRemote && !isLoopback(parsed.server.host)) {
    throw new ConfigError('server.host', `${parsed.server.host} is not a loopback address; the Event Socket controls calls, ` +
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
    if (/[\x00-\x1f\x7f]/.test(dir)) throw new ConfigError(field, 'must not contain control characters')
    if (filesMode && /\s/.test(dir)) throw new ConfigError(field, 'must not contain spaces in files media mode (FreeSWITCH splits record arguments on spaces)')
  }

  const scriptModules: Record<string, string> = { ...BUILTIN_SCRIPTS }
  for (const [name, s] of Object.entries(parsed.scripts)) scriptModules[name] = abs(s.module)

  const routes: Record<string, RouteConfig> = {}
  for (const [did, route] of Object.entries(parsed.routes)) {
    const e164 = toE164(did, parsed.numbers.defaultCountry)
    if (e164 === undefined) throw new ConfigError(`routes.${did}`, 'is not a phone number')
    if (routes[e164] !== undefined) throw new ConfigError(`routes.${did}`, `is the same number as another route (${e164})`)
    checkScriptName(`routes.${did}.script`, route.script, scriptModules)
    routes[e164] = route
  }
  if (parsed.defaultRoute) checkScriptName('defaultRoute.script', parsed.defaultRoute.script, scriptModules)

  // Plain-text gRPC would send audio and credentials in clear: allowed for a loopback fake only.
  for (const [field, g] of [['speech.stt.google', parsed.speech.stt.google], ['speech.tts.google', parsed.speech.tts.google]] as const) {
    if (g.insecure && !isLoopback(g.apiEndpoint ?? '')) {
      throw new ConfigError(`${field}.insecure`, 'plain-text gRPC is only allowed with a loopback apiEndpoint (127.0.0.1, ::1, localhost)')
    }
  }

  const stream = parsed.media.stream
  if (!isLoopback(stream.freeswitchAddress) && stream.freeswitchPorts === undefined) {
    throw new ConfigError('media.stream.freeswitchPorts', 'FreeSWITCH runs on another host: give the UDP port range it may bind for unicast')
  }

  // Every external number a transfer can ring passes the dial guard now, not mid-call.
  const dial = createDialGuard(parsed.guard, { defaultCountry: parsed.numbers.defaultCountry })
  for (const [name, target] of Object.entries(parsed.transfers)) {
    if (target.type !== 'endpoint') continue
    const number = numberInDialString(target.dialString)
    if (number === undefined) continue
    const verdict = dial.verdict(number)
    if (!verdict.allowed) throw new ConfigError(`transfers.${name}.dialString`, `${number} may not be dialled (${verdict.reason})`)
  }

  // The agent's transfer targets must name configured transfers (checked again when it starts).
  checkAgentTargets(parsed.agent, Object.keys(parsed.transfers))

  return { ...parsed, configDir, media, routes, scriptModules }
}

function checkScriptName (field: string, name: string, modules: Record<string, string>): void {
  if (modules[name] === undefined) {
    throw new ConfigError(field, `unknown script "${name}" (built-in: ${Object.keys(BUILTIN_SCRIPTS).join(', ')}; or add it under scripts:)`)
  }
}

function isLoopback (host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1'
  return false
}
