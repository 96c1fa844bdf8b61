import { z } from 'zod'

/**
 * The `realtime` conversation mode's settings: which speech-to-speech vendor, model and voice,
 * and where its key is. Used as `agent.realtime` (the default for every conversation) and as a
 * route's `options.realtime` (overrides, field by field). `agent.mode` / a route's
 * `options.mode` choose `pipeline` (STT -> LLM -> TTS) or `realtime`.
 */

export const CONVERSATION_MODES = ['pipeline', 'realtime'] as const
export type ConversationMode = typeof CONVERSATION_MODES[number]

export const REALTIME_VENDORS = ['openai', 'gemini'] as const
export type RealtimeVendorName = typeof REALTIME_VENDORS[number]

const DEFAULTS: Record<RealtimeVendorName, { model: string, apiKeyEnv: string }> = {
  openai: { model: 'gpt-realtime', apiKeyEnv: 'OPENAI_API_KEY' },
  gemini: { model: 'gemini-live-2.5-flash-preview', apiKeyEnv: 'GEMINI_API_KEY' },
}

const fields = {
  vendor: z.enum(REALTIME_VENDORS),
  /** Default: gpt-realtime (openai), gemini-live-2.5-flash-preview (gemini). */
  model: z.string().regex(/^[A-Za-z0-9._:/-]{1,100}$/, 'a model name: letters, digits and . _ : / -'),
  /** The vendor's voice name (OpenAI `marin`, Gemini `Kore`); default the vendor's. */
  voice: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a voice name: letters, digits, _ and -'),
  /** Environment variable holding the key; default OPENAI_API_KEY / GEMINI_API_KEY. */
  apiKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]{0,63}$/, 'an environment variable name (A-Z, 0-9, _)'),
  /** The vendor's WebSocket base URL (a proxy, a test server); default the vendor's own. */
  baseUrl: z.string().regex(/^(wss?|https?):\/\/[^\s]+$/, 'a ws://, wss://, http:// or https:// URL'),
  /** Socket open + the vendor's set-up acknowledgement; past it the apology and fallback. */
  openTimeoutMs: z.number().int().min(500).max(30_000),
}

export const realtimeSchema = z.strictObject({
  vendor: fields.vendor,
  model: fields.model.optional(),
  voice: fields.voice.optional(),
  apiKeyEnv: fields.apiKeyEnv.optional(),
  baseUrl: fields.baseUrl.optional(),
  openTimeoutMs: fields.openTimeoutMs.default(5000),
})

/** A route's overrides of `agent.realtime`. */
export const realtimeOverrideSchema = z.strictObject({
  vendor: fields.vendor.optional(),
  model: fields.model.optional(),
  voice: fields.voice.optional(),
  apiKeyEnv: fields.apiKeyEnv.optional(),
  baseUrl: fields.baseUrl.optional(),
  openTimeoutMs: fields.openTimeoutMs.optional(),
})

export type RealtimeConfig = z.output<typeof realtimeSchema>
export type RealtimeOverride = z.output<typeof realtimeOverrideSchema>

export interface ResolvedRealtime {
  readonly vendor: RealtimeVendorName
  readonly model: string
  readonly voice: string | undefined
  readonly apiKeyEnv: string
  readonly baseUrl: string | undefined
  readonly openTimeoutMs: number
}

/** The agent's settings with a route's overrides on top; undefined when no vendor is named. */
export function resolveRealtime (base: RealtimeConfig | undefined, override: RealtimeOverride | undefined): ResolvedRealtime | undefined {
  const vendor = override?.vendor ?? base?.vendor
  if (vendor === undefined) return undefined
  // A route that switches vendor does not inherit the other vendor's model, voice or key.
  const same = base?.vendor === vendor ? base : undefined
  return {
    vendor,
    model: override?.model ?? same?.model ?? DEFAULTS[vendor].model,
    voice: override?.voice ?? same?.voice,
    apiKeyEnv: override?.apiKeyEnv ?? same?.apiKeyEnv ?? DEFAULTS[vendor].apiKeyEnv,
    baseUrl: override?.baseUrl ?? same?.baseUrl,
    openTimeoutMs: override?.openTimeoutMs ?? base?.openTimeoutMs ?? 5000,
  }
}

interface RouteLike {
  readonly script: string
  readonly mediaMode?: 'files' | 'stream' | undefined
  readonly options: Readonly<Record<string, unknown>>
}

interface ConfigLike {
  readonly media: { readonly mode: 'files' | 'stream' }
  readonly agent: { readonly mode: ConversationMode, readonly realtime?: RealtimeConfig | undefined }
  readonly routes: Readonly<Record<string, RouteLike>>
  readonly defaultRoute?: RouteLike | undefined
}

/**
 * Load-time checks of the mode on every route (a route's `options` are free-form for scripts,
 * so `mode` and `realtime` there are validated here): a known mode, valid overrides, a vendor
 * named somewhere, and stream media. `realtime` moves audio over the unicast stream; files mode
 * (FreeSWITCH record + playback) has no live audio to send.
 */
export function realtimeProblems (config: ConfigLike): Array<{ field: string, message: string }> {
  const problems: Array<{ field: string, message: string }> = []
  const add = (field: string, message: string): void => { problems.push({ field, message }) }
  const check = (field: string, route: RouteLike | undefined): void => {
    const o = route?.options ?? {}
    // take-message never converses: the agent's default mode does not concern it.
    if (o.mode === undefined && o.realtime === undefined && route?.script === 'take-message') return
    let mode: ConversationMode = config.agent.mode
    if (o.mode !== undefined) {
      const parsed = z.enum(CONVERSATION_MODES).safeParse(o.mode)
      if (!parsed.success) { add(`${field}.options.mode`, `must be one of ${CONVERSATION_MODES.join(', ')}`); return }
      mode = parsed.data
    }
    let override: RealtimeOverride | undefined
    if (o.realtime !== undefined) {
      const parsed = realtimeOverrideSchema.safeParse(o.realtime)
      if (!parsed.success) {
        for (const issue of parsed.error.issues) add([`${field}.options.realtime`, ...issue.path.map(String)].join('.'), issue.message)
        return
      }
      override = parsed.data
    }
    if (mode !== 'realtime') return
    const where = o.mode !== undefined ? `${field}.options.mode` : 'agent.mode'
    if ((route?.mediaMode ?? config.media.mode) === 'files') {
      add(where, 'realtime needs stream media (the caller\'s audio goes live to the vendor); files mode records and plays whole files. Set media.mode (or this route\'s mediaMode) to stream, or use mode: pipeline')
    }
    if (resolveRealtime(config.agent.realtime, override) === undefined) {
      add(where, 'realtime needs a vendor: set agent.realtime.vendor (openai or gemini) or this route\'s options.realtime.vendor')
    }
  }
  if (config.agent.mode === 'realtime' && Object.keys(config.routes).length === 0 && config.defaultRoute === undefined) check('agent', undefined)
  for (const [did, route] of Object.entries(config.routes)) check(`routes.${did}`, route)
  if (config.defaultRoute !== undefined) check('defaultRoute', config.defaultRoute)
  return problems
}

/** The mode a route's conversations run in: its `options.mode`, else the agent's. */
export function routeMode (agentMode: ConversationMode, options: Readonly<Record<string, unknown>> | undefined): ConversationMode {
  return options?.mode === 'realtime' || options?.mode === 'pipeline' ? options.mode : agentMode
}

/** Whether any route converses in realtime mode (its fixed phrases must be pre-rendered without an LLM). */
export function anyRealtime (config: ConfigLike): boolean {
  return [...Object.values(config.routes), ...(config.defaultRoute ? [config.defaultRoute] : [])]
    .some((r) => r.script !== 'take-message' && routeMode(config.agent.mode, r.options) === 'realtime')
}
