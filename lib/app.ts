import { VadEngine } from './media/vad/index.ts'
import { openMediaSockets, sharedScheduler } from './media/stream/index.ts'
import type { Logger } from 'pino'
import type { Config } from './config/load.ts'
import type { Speaker } from './call/context.ts'
import { createAgentServices, type AgentServices } from './agent/services.ts'
import type { LlmProvider } from './llm/types.ts'
import type { CallStore } from './records/types.ts'
import type { SttProvider } from './speech/stt/types.ts'
import { runCall } from './call/run-call.ts'
import { registerSecrets, secretsFromConfig } from './ops/scrub.ts'
import { messageFor } from './call/admit.ts'
import { loadScripts, type CallScript } from './call/script.ts'
import { startOutboundServer, type OutboundServer } from './freeswitch/server.ts'
import { createAdmissionGuard, createDialGuard, type AdmissionGuard, type AdmissionStore, type RejectionRecord } from './guard/index.ts'
import { startOwnerServices, type OwnerServices } from './owner/services.ts'
import { anyRealtime } from './realtime/config.ts'

export interface PhoneAgentDeps {
  readonly logger: Logger
  readonly speaker: Speaker
  readonly stt?: SttProvider | undefined
  readonly llm?: LlmProvider | undefined
  /** Replaces the guard built from `config.guard` (tests, several agents sharing one). */
  readonly admission?: AdmissionGuard
  /** The counters the guard built from `config.guard` uses; a cluster worker's asks the primary. */
  readonly admissionStore?: AdmissionStore | undefined
  /** Told of every refused call (call records). */
  readonly onReject?: (record: RejectionRecord) => void
  /** Call records; none kept when absent. */
  readonly records?: Pick<CallStore, 'begin'> | undefined
  /** Replaces the agent services built from `config.agent` (tests pin the clock). */
  readonly agent?: AgentServices | undefined
  /** Replaces the voice-activity engine built from `media.stream.vad` (shared by several agents). */
  readonly vads?: VadEngine | undefined
  /**
   * The full store (`serve`): turns on the owner's services (notifications, voicemail
   * transcripts, the console's live view); calls are then recorded through them.
   */
  readonly store?: CallStore | undefined
  /** Where the owner's services read their secrets; `process.env` when absent. */
  readonly env?: NodeJS.ProcessEnv | undefined
}

export interface RunningPhoneAgent {
  readonly server: OutboundServer
  readonly scripts: ReadonlyMap<string, CallScript>
  /** Present when `deps.store` was given. */
  readonly owner: OwnerServices | undefined
  /** Stop accepting calls, wait for the ones in progress (up to `graceMs`), then return. */
  stop (graceMs?: number): Promise<void>
}

/** Names of every script the config can reach, so all of them load (and fail) at start-up. */
export function routedScriptNames (config: Config): string[] {
  const names = Object.values(config.routes).map((r) => r.script)
  if (config.defaultRoute) names.push(config.defaultRoute.script)
  return names
}

/**
 * Start the service: load every routed script, pre-render the apology in each configured
 * language (a failing call must not wait for TTS), and open the outbound Event Socket.
 */
export async function startPhoneAgent (config: Config, deps: PhoneAgentDeps): Promise<RunningPhoneAgent> {
  const log = deps.logger
  // Every secret the config names by environment variable is scrubbed from the logs verbatim.
  registerSecrets(secretsFromConfig(config, process.env))
  const scripts = await loadScripts(config.scriptModules, routedScriptNames(config))
  await prerenderMessages(config, deps.speaker, log)
  await prerenderScriptPhrases(config, scripts, deps.speaker, log)
  // The agent's fixed phrases are only worth rendering when a conversation can happen at all
  // (a pipeline with its model, or a realtime vendor).
  const converses = deps.llm !== undefined || anyRealtime(config)
  const agent = deps.agent ?? await createAgentServices(config, { log: log.child({ module: 'agent' }), renderer: converses ? deps.speaker : undefined })
  const admission = deps.admission ?? createAdmissionGuard(config.guard, {
    defaultCountry: config.numbers.defaultCountry,
    servedDids: (did) => Object.hasOwn(config.routes, did) || config.defaultRoute !== undefined,
    logger: log.child({ module: 'guard' }),
    // guard.capacity.reservedForContacts: the agent's contact directory says who is known.
    isKnownContact: (e164) => agent.lookupContact(e164) !== undefined,
    trunkRanges: config.doctor.trunkRanges,
    ...(deps.admissionStore ? { store: deps.admissionStore } : {}),
    ...(deps.onReject ? { onReject: deps.onReject } : {}),
  })
  const dial = createDialGuard(config.guard, { defaultCountry: config.numbers.defaultCountry })
  if (streamsMedia(config)) openMediaSockets(config.media.stream, log.child({ module: 'stream' }))
  // One voice-activity engine for every call: with Silero, one batched inference per frame tick.
  const vads = deps.vads ?? await VadEngine.start(config.media.stream.vad, log.child({ module: 'vad' }), { ticker: sharedScheduler() })
  const owner = deps.store === undefined
    ? undefined
    : await startOwnerServices(config, { store: deps.store, stt: deps.stt, logger: log, env: deps.env ?? process.env })
  const records = owner?.records ?? deps.records
  const server = await startOutboundServer({
    host: config.server.host,
    port: config.server.port,
    commandTimeoutMs: config.server.commandTimeoutMs,
    lingerMs: config.server.lingerMs,
    handshakeTimeoutMs: config.server.handshakeTimeoutMs,
    maxHandshakes: config.server.maxHandshakes,
    logger: log,
    onCall: async (channel) => { await runCall(channel, { config, scripts, speaker: deps.speaker, stt: deps.stt, llm: deps.llm, logger: log, admission, dial, records, agent, vads }) },
  })
  return {
    server,
    scripts,
    owner,
    stop: async (graceMs = 30_000) => {
      await server.stopAccepting()
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        server.drained(),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs) }),
      ])
      clearTimeout(timer)
      if (deps.admission === undefined) await admission.close()
      if (deps.agent === undefined) await agent.close()
      if (deps.vads === undefined) await vads.close()
      await owner?.close()
    },
  }
}

/** Each routed script's fixed phrases (greetings first), for each route's options and language. */
async function prerenderScriptPhrases (config: Config, scripts: ReadonlyMap<string, CallScript>, speaker: Speaker, log: Logger): Promise<void> {
  const routes = [...Object.values(config.routes), ...(config.defaultRoute ? [config.defaultRoute] : [])]
  for (const route of routes) {
    const language = route.language ?? config.language
    const phrases = scripts.get(route.script)?.phrases?.({ options: route.options, language }) ?? []
    for (const text of phrases) {
      try {
        await speaker.render(text, { language, voice: route.voice })
      } catch (err) {
        log.warn({ err, script: route.script, language }, 'could not pre-render a script phrase; it will be synthesised on demand')
      }
    }
  }
}

/** The apology and the busy message, in every configured language, so neither waits for TTS. */
async function prerenderMessages (config: Config, speaker: Speaker, log: Logger): Promise<void> {
  const languages = new Set([config.language, ...Object.values(config.routes).map((r) => r.language ?? config.language)])
  for (const language of languages) {
    for (const texts of [config.messages.apology, config.messages.busy, config.messages.shutdown]) {
      const text = messageFor(texts, language)
      if (text === undefined) continue
      try {
        await speaker.render(text, { language })
      } catch (err) {
        log.warn({ err, language }, 'could not pre-render a message; it will be synthesised on demand')
      }
    }
  }
}

/** Whether any call can stream media (unicast): the default mode, or a route's own. */
function streamsMedia (config: Config): boolean {
  return config.media.mode === 'stream' || Object.values(config.routes).some((route) => route.mediaMode === 'stream') ||
    config.defaultRoute?.mediaMode === 'stream'
}
