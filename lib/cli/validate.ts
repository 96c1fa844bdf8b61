import { constants } from 'node:fs'
import { access, readFile, stat } from 'node:fs/promises'
import { dirname, isAbsolute, resolve } from 'node:path'
import { ConfigError, isPhoneAgentError } from '../errors.ts'
import { loadContacts } from '../agent/contacts.ts'
import { loadScript, type CallScript, type ScriptNeed } from '../call/script.ts'
import { BUILTIN_SCRIPTS } from '../scripts/builtin.ts'
import { llmProviders, sttProviders, ttsProviders } from '../speech/config.ts'
import { detectEspeak, espeakVoiceFor, type Espeak } from '../speech/tts/offline-espeak.ts'
import { FLITE_VOICES } from '../speech/tts/offline-flite.ts'
import { configPath, loadConfigFile, type Config } from '../config/load.ts'
import { ConfigProblems, ProblemList, type ConfigProblem } from '../config/problems.ts'
import { didYouMean } from '../suggest.ts'
import { typecheckScripts } from './typecheck.ts'
import { guardWarnings } from '../guard/config-warnings.ts'
import { ownerSecretProblems } from '../owner/secrets.ts'
import { realtimeOverrideSchema, resolveRealtime, routeMode } from '../realtime/config.ts'

/**
 * The one validation path. `check`, `serve` and `call` all run it, so whatever would make the
 * service fail at start-up (or fail every call) fails here first, with every problem listed:
 * the file and its schema (buildConfig), then what the file points at: environment variables,
 * files, the espeak-ng binary, the scripts (loaded and type-checked) and the providers they need.
 * Things that work but probably not as meant (an Italian route with only the English voice) are
 * warnings: shown by `check`, logged by `serve`.
 */

export interface ValidateOptions {
  readonly env?: NodeJS.ProcessEnv
  /** Type-check user scripts with the TypeScript compiler (default true). */
  readonly typecheck?: boolean
  /** Calls come from the simulator, not a carrier: skip warnings about live SIP traffic. */
  readonly simulated?: boolean
  /** Changes the parsed file before it is validated (command-line overrides). */
  readonly adjust?: (raw: unknown) => unknown
  /** Relative config paths are taken from here (default: the process's working directory). */
  readonly cwd?: string
}

export interface Validated {
  readonly config: Config
  /** Every routed script, loaded. */
  readonly scripts: ReadonlyMap<string, CallScript>
  readonly warnings: readonly ConfigProblem[]
}

/** Read the config file and validate everything; throws ConfigProblems listing every problem. */
export async function loadAndValidate (path: string | undefined, options: ValidateOptions = {}): Promise<Validated> {
  const env = options.env ?? process.env
  const config = await loadConfigFile(configPath(path, env, options.cwd), options.adjust)
  return await validateConfig(config, options)
}

export async function validateConfig (config: Config, options: ValidateOptions = {}): Promise<Validated> {
  const env = options.env ?? process.env
  const problems = new ProblemList()
  const warnings: ConfigProblem[] = []

  const routes = routeEntries(config)
  if (routes.length === 0) {
    problems.add('routes', 'no routes and no defaultRoute: every call would be refused (add your number under routes:)')
  }

  checkProviderSecrets(config, env, problems, warnings)
  for (const p of ownerSecretProblems(config, env)) problems.add(p.field, p.message)
  await checkFiles(config, problems)
  const espeak = await checkOfflineVoice(config, problems)
  checkVoices(config, espeak, warnings)
  if (options.simulated !== true) warnings.push(...guardWarnings(config))

  // Scripts: every routed one loaded (import errors, a missing default export), user scripts
  // type-checked, and each one's providers present.
  const scripts = new Map<string, CallScript>()
  for (const name of new Set(routes.map((r) => r.route.script))) {
    const path = config.scriptModules[name]
    if (path === undefined) continue // an unknown name was reported by buildConfig
    const field = Object.hasOwn(config.scripts, name) ? `scripts.${name}.module` : routes.find((r) => r.route.script === name)!.field
    try {
      scripts.set(name, await loadScript(name, path))
    } catch (err) {
      if (!isPhoneAgentError(err)) throw err
      problems.add(field, err.message)
    }
  }
  const userScripts = Object.entries(config.scripts)
    .filter(([name]) => scripts.has(name))
    .map(([name]) => ({ name, path: config.scriptModules[name]! }))
  if (options.typecheck !== false && userScripts.length > 0) {
    const result = await typecheckScripts(userScripts, config.configDir)
    if (result.checked) result.problems.forEach((p) => { problems.add(p.field, p.message) })
    else warnings.push({ field: 'scripts', message: `not type-checked: ${result.reason}` })
  }
  for (const { field, route } of routes) {
    const script = scripts.get(route.script)
    if (script === undefined) continue
    const needs = new Set<ScriptNeed>([...script.needs ?? [], ...await needsFromSource(config.scriptModules[route.script]!)])
    // The receptionist in realtime mode talks to a speech-to-speech vendor: no STT, no LLM, its key.
    if (route.script === 'receptionist' && routeMode(config.agent.mode, route.options) === 'realtime') {
      needs.delete('stt')
      needs.delete('llm')
      const override = realtimeOverrideSchema.safeParse(route.options.realtime).data
      const rt = resolveRealtime(config.agent.realtime, override)
      const keyField = override?.apiKeyEnv !== undefined ? `${field}.options.realtime.apiKeyEnv` : 'agent.realtime.apiKeyEnv'
      if (rt !== undefined && (env[rt.apiKeyEnv] ?? '') === '' && !problems.items.some((p) => p.field === keyField)) {
        problems.add(keyField, `environment variable ${rt.apiKeyEnv} is not set (the ${rt.vendor} realtime key)`)
      }
    }
    const missing: string[] = []
    if (needs.has('stt') && sttProviders(config.speech.stt).length === 0) missing.push('a speech-to-text provider (speech.stt.provider)')
    if (needs.has('llm') && llmProviders(config.speech.llm).length === 0) missing.push('a language model (speech.llm.provider)')
    if (missing.length > 0) {
      problems.add(`${field}.script`, `script "${route.script}" needs ${missing.join(' and ')}; see docs/providers.md`)
    }
  }

  if (problems.items.length > 0) throw new ConfigProblems(problems.items)
  return { config, scripts, warnings }
}

/** Each route with the field path it is configured under. */
function routeEntries (config: Config): Array<{ field: string, route: Config['routes'][string] }> {
  const out = Object.entries(config.routes).map(([did, route]) => ({ field: `routes.${did}`, route }))
  if (config.defaultRoute) out.push({ field: 'defaultRoute', route: config.defaultRoute })
  return out
}

/** Every configured provider of every role, each with the config path of its settings. */
function allProviders (config: Config): Array<{ field: string, entry: { provider: string, apiKeyEnv?: string | undefined } }> {
  const s = config.speech
  return [...sttProviders(s.stt), ...llmProviders(s.llm), ...ttsProviders(s.tts)]
}

/** Keys live in the environment; a provider naming a variable that is not set fails now (each one of a list too). */
function checkProviderSecrets (config: Config, env: NodeJS.ProcessEnv, problems: ProblemList, warnings: ConfigProblem[]): void {
  for (const { field, entry } of allProviders(config)) {
    // The offline voice has no key; every other vendor names its variable (anthropic's is required).
    if (entry.provider === 'offline') continue
    const name = entry.apiKeyEnv
    if (name !== undefined) {
      if (env[name] === undefined || env[name] === '') problems.add(`${field}.apiKeyEnv`, `environment variable ${name} is not set`)
      continue
    }
    // A keyless server can transcribe uploads, but OpenAI's realtime session always wants a key.
    if (entry.provider === 'openai' && (entry as { streaming?: boolean }).streaming === true) {
      warnings.push({ field, message: 'streaming: true without apiKeyEnv: OpenAI refuses a realtime transcription session without a key' })
    }
    if (entry.provider === 'google') {
      const file = env.GOOGLE_APPLICATION_CREDENTIALS
      if (file === undefined || file === '') {
        warnings.push({ field, message: 'no apiKeyEnv and GOOGLE_APPLICATION_CREDENTIALS is not set: Google must find credentials on its own (gcloud, metadata server)' })
      }
    }
  }
  if (config.records.driver === 'postgres') {
    const name = config.records.postgres.urlEnv
    const url = env[name]
    if (url === undefined || url === '') problems.add('records.postgres.urlEnv', `environment variable ${name} is not set (expected postgres://user:password@host/db)`)
    else if (!/^postgres(ql)?:\/\//.test(url)) problems.add('records.postgres.urlEnv', `environment variable ${name} does not hold a postgres:// URL`)
  }
}

async function checkFiles (config: Config, problems: ProblemList): Promise<void> {
  const file = config.agent.contacts?.file
  if (file !== undefined) {
    const path = isAbsolute(file) ? file : resolve(config.configDir, file)
    await problems.runAsync(async () => {
      try {
        await loadContacts(path, { defaultCountry: config.numbers.defaultCountry, ...(config.agent.contacts?.format ? { format: config.agent.contacts.format } : {}) })
      } catch (err) {
        if (isPhoneAgentError(err)) throw new ConfigError('agent.contacts.file', err.message)
        throw err
      }
    })
  }
  const gcp = process.env.GOOGLE_APPLICATION_CREDENTIALS
  const usesGoogle = allProviders(config).some((c) => c.entry.provider === 'google')
  if (usesGoogle && gcp !== undefined && gcp !== '') {
    await access(gcp, constants.R_OK).catch(() => { problems.add('speech', `GOOGLE_APPLICATION_CREDENTIALS names ${gcp}, which cannot be read`) })
  }
  await checkWritableDir(problems, 'media.soundsDir', config.media.soundsDir)
  if (config.records.driver === 'sqlite') {
    const dataDir = isAbsolute(config.records.dataDir) ? config.records.dataDir : resolve(config.configDir, config.records.dataDir)
    await checkWritableDir(problems, 'records.dataDir', dataDir)
  }
}

/** The directory, or the nearest existing parent it would be created in, must be writable. */
async function checkWritableDir (problems: ProblemList, field: string, dir: string): Promise<void> {
  let current = dir
  for (;;) {
    const info = await stat(current).catch(() => undefined)
    if (info !== undefined) {
      if (!info.isDirectory()) { problems.add(field, `${current} is not a directory`); return }
      await access(current, constants.W_OK | constants.X_OK).catch(() => { problems.add(field, `${current} is not writable by this user`) })
      return
    }
    const parent = dirname(current)
    if (parent === current) return
    current = parent
  }
}

async function checkOfflineVoice (config: Config, problems: ProblemList): Promise<Espeak | undefined> {
  const configured = ttsProviders(config.speech.tts).find((c) => c.entry.provider === 'offline')
  if (configured?.entry.provider !== 'offline') return undefined
  const offline = configured.entry
  if (!(FLITE_VOICES as readonly string[]).includes(offline.voice)) {
    problems.add(`${configured.field}.voice`, `unknown flite voice "${offline.voice}"${didYouMean(offline.voice, FLITE_VOICES)}; one of ${FLITE_VOICES.join(', ')}`)
  }
  return await problems.runAsync(async () => await detectEspeak({ path: offline.espeakPath }))
}

/** Languages with no real voice are spoken by the English one: legal, rarely what was meant. */
function checkVoices (config: Config, espeak: Espeak | undefined, warnings: ConfigProblem[]): void {
  const languages: Array<[string, string]> = [['language', config.language]]
  for (const { field, route } of routeEntries(config)) if (route.language !== undefined) languages.push([`${field}.language`, route.language])
  const seen = new Set<string>()
  for (const [field, language] of languages) {
    if (seen.has(language)) continue
    seen.add(language)
    // The first voice is the one callers normally hear.
    const first = ttsProviders(config.speech.tts)[0]
    const tts = first?.entry
    if (tts?.provider === 'offline') {
      if (language.toLowerCase().startsWith('en')) continue
      if (espeak !== undefined && espeakVoiceFor(espeak, language) !== undefined) continue
      warnings.push({
        field,
        message: espeak === undefined
          ? `${language}: the offline voice speaks English only; install espeak-ng (apt-get install espeak-ng) or configure a cloud TTS (docs/providers.md)`
          : `${language}: espeak-ng has no voice for it; the English voice will read the text`,
      })
    } else if (tts?.provider === 'google' && tts.voice !== undefined) {
      const voiceLanguage = tts.voice.split('-').slice(0, 2).join('-').toLowerCase()
      if (voiceLanguage !== language.toLowerCase()) {
        warnings.push({ field: `${first?.field ?? 'speech.tts.google'}.voice`, message: `${tts.voice} is a ${voiceLanguage} voice, but ${field} is ${language}` })
      }
    }
  }
}

/**
 * Providers a script needs, read from its source: `.ask(` needs speech-to-text, `.converse(`
 * speech-to-text and a model. Built-in scripts declare theirs with `needs`.
 */
export async function needsFromSource (path: string): Promise<ScriptNeed[]> {
  if (Object.values(BUILTIN_SCRIPTS).includes(path)) return []
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    return []
  }
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1')
  const needs: ScriptNeed[] = []
  if (/\.\s*(ask|converse)\s*\(/.test(code)) needs.push('stt')
  if (/\.\s*converse\s*\(/.test(code)) needs.push('llm')
  return needs
}
