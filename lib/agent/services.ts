import { isAbsolute, resolve } from 'node:path'
import type { Logger } from 'pino'
import { BusinessHours } from './business-hours.ts'
import { CannedSpeech, type CannedRenderer, type CannedSpec } from './canned.ts'
import { checkAgentTargets, greetingFor, textFor, type AgentConfig } from './config.ts'
import { WatchedContacts, loadContacts, type Contact, type ContactDirectory } from './contacts.ts'

/**
 * What the conversation agent needs beyond the call itself, built once at start-up from the
 * `agent:` section: the contact directory, business hours, and pre-rendered phrases.
 */
export interface AgentServices {
  readonly config: AgentConfig
  /** Country for national-format numbers. */
  readonly defaultCountry: string
  /** Every name under top-level `transfers:`. */
  readonly transferNames: readonly string[]
  readonly hours: BusinessHours | undefined
  readonly canned: CannedSpeech
  lookupContact (number: string | undefined): Contact | undefined
  now (): Date
  close (): Promise<void>
}

/** What a route says that the agent's phrases depend on (routes themselves belong to lib/call). */
interface RouteVoice {
  readonly language?: string | undefined
  readonly voice?: string | undefined
  readonly recordCall?: boolean | undefined
}

/** The parts of the config the agent's services are built from (the app passes the whole config). */
export interface AgentServicesConfig {
  readonly agent: AgentConfig
  /** Top-level `transfers:`; only the names are read here. */
  readonly transfers: Readonly<Record<string, unknown>>
  /** Relative contact files are taken from the config file's directory. */
  readonly configDir: string
  readonly language: string
  readonly numbers: { readonly defaultCountry: string }
  readonly media: {
    readonly soundsDir: string
    /** The whole-call recording's consent line, rendered ahead with the other phrases. */
    readonly stream: { readonly recording: { readonly consent: { readonly enabled: boolean, readonly text: Readonly<Record<string, string>> } } }
  }
  readonly routes: Readonly<Record<string, RouteVoice>>
  readonly defaultRoute?: RouteVoice | undefined
}

export interface AgentServicesOptions {
  readonly log?: Logger | undefined
  /** Clock (tests pin the time of day). */
  readonly now?: () => Date
  /** Renders the fixed phrases; none are pre-rendered without it. */
  readonly renderer?: CannedRenderer | undefined
}

/** Throws ConfigError for a target name the agent uses that is not configured. */
export async function createAgentServices (config: AgentServicesConfig, options: AgentServicesOptions = {}): Promise<AgentServices> {
  const agent = config.agent
  const transferNames = Object.keys(config.transfers)
  checkAgentTargets(agent, transferNames)
  const hours = agent.businessHours === undefined ? undefined : new BusinessHours(agent.businessHours)
  let directory: ContactDirectory | WatchedContacts | undefined
  if (agent.contacts !== undefined) {
    const file = agent.contacts.file
    const path = isAbsolute(file) ? file : resolve(config.configDir, file)
    const opts = {
      defaultCountry: config.numbers.defaultCountry,
      ...(agent.contacts.format === undefined ? {} : { format: agent.contacts.format }),
      ...(options.log === undefined ? {} : { log: options.log.child({ module: 'contacts' }) }),
    }
    // A changed directory brings new names: their greetings are rendered as soon as it loads.
    const onReload = (next: ContactDirectory): void => { void prerenderGreetings(config, next.all(), options) }
    directory = agent.contacts.watch ? await WatchedContacts.open(path, { ...opts, onReload }) : await loadContacts(path, opts)
    const loaded = directory instanceof WatchedContacts ? directory.current : directory
    options.log?.info({ contacts: loaded.size }, 'contacts loaded')
    await prerenderGreetings(config, loaded.all(), options)
  }
  const canned = new CannedSpeech(config.media.soundsDir)
  if (options.renderer !== undefined) {
    await canned.prerender(options.renderer, cannedSpecs(config), options.log)
  }
  const now = options.now ?? (() => new Date())
  return {
    config: agent,
    defaultCountry: config.numbers.defaultCountry,
    transferNames,
    hours,
    canned,
    lookupContact: (number) => directory?.lookup(number),
    now,
    close: async () => { if (directory instanceof WatchedContacts) await directory.close() },
  }
}

/** Known callers are greeted by name ("Buongiorno Marco"): render those greetings ahead too. */
const MAX_PRERENDERED_GREETINGS = 2000

async function prerenderGreetings (config: AgentServicesConfig, contacts: readonly Contact[], options: AgentServicesOptions): Promise<void> {
  const renderer = options.renderer
  if (renderer === undefined) return
  const voices = new Set<string | undefined>([undefined, ...Object.values(config.routes).map((r) => r.voice)])
  // VIPs first, then the rest, up to a bound that keeps start-up short for a large directory.
  const named = contacts.filter((c) => c.name !== undefined && c.name.trim() !== '')
    .sort((a, b) => Number(b.vip) - Number(a.vip))
    .slice(0, MAX_PRERENDERED_GREETINGS)
  for (const contact of named) {
    const language = contact.language ?? config.language
    const text = greetingFor(config.agent, language, contact.name)
    for (const voice of voices) {
      try {
        await renderer.render(text, { language, voice })
      } catch (err) {
        options.log?.warn({ err }, 'could not pre-render a contact greeting')
      }
    }
  }
}

/**
 * The phrases worth rendering ahead: apology, goodbye, reprompt, the anonymous greeting, the
 * transfer and refusal lines and the dead-air filler, in every language and voice a route can use.
 */
export function cannedSpecs (config: AgentServicesConfig): CannedSpec[] {
  const agent = config.agent
  const combos = new Map<string, { language: string, voice: string | undefined }>()
  const add = (language: string, voice: string | undefined): void => { combos.set(JSON.stringify([language, voice ?? '']), { language, voice }) }
  add(config.language, undefined)
  // A contact's own language picks the phrase in that language.
  for (const language of Object.keys(agent.apology)) add(language, undefined)
  for (const route of [...Object.values(config.routes), ...(config.defaultRoute ? [config.defaultRoute] : [])]) {
    add(route.language ?? config.language, route.voice)
  }
  const specs: CannedSpec[] = []
  for (const { language, voice } of combos.values()) {
    for (const texts of [agent.apology, agent.goodbye, agent.reprompts.text, agent.greeting, agent.connecting, agent.transferFailed, agent.cannotHelp, agent.fillers.text]) {
      specs.push({ text: textFor(texts, language), language, voice })
    }
  }
  // The consent line of a recorded route is the first thing its callers hear.
  const consent = config.media.stream.recording.consent
  for (const route of [...Object.values(config.routes), ...(config.defaultRoute ? [config.defaultRoute] : [])]) {
    if (consent.enabled && route.recordCall === true) specs.push({ text: textFor(consent.text, route.language ?? config.language), language: route.language ?? config.language, voice: route.voice })
  }
  return specs
}
