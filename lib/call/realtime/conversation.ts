import type { Logger } from 'pino'
import { agentSchema, type AgentConfig } from '../../agent/config.ts'
import { greetingText, systemPrompt, type CallProfile } from '../../agent/prompt.ts'
import { toolDefinitions, validateToolCall, type ToolContext } from '../../agent/tools.ts'
import { PhoneAgentError, isCallEnded } from '../../errors.ts'
import type { ResolvedRealtime } from '../../realtime/config.ts'
import type { RealtimeSession, RealtimeVendor } from '../../realtime/types.ts'
import { createRealtimeVendor } from '../../realtime/vendor.ts'
import type { VerbContext } from '../context.ts'
import { OperatorKeyLane } from '../conversation/operator-key.ts'
import { profileForCall } from '../conversation/shared.ts'
import type { StreamSession } from '../stream/session.ts'
import { answer } from '../verbs/answer.ts'
import type { ConverseOptions, ConverseResult } from '../verbs/converse.ts'
import { RealtimeEndings } from './endings.ts'
import { RealtimeExchange } from './exchange.ts'
import { EventFeed } from './feed.ts'

export interface RealtimeDeps {
  /** The vendor client; default from the settings and the environment (the key). */
  readonly vendor?: RealtimeVendor | undefined
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
}

/**
 * The `realtime` conversation mode: the caller's audio goes to a speech-to-speech vendor
 * (OpenAI Realtime, Gemini Live) and its spoken answer comes back, over the call's unicast
 * stream. Everything around the vendor is the pipeline's: the same instructions and greeting,
 * the same tools through the same validation and transfer verb (so the dial guard), the same
 * operator key, apology and fallback, and the same record.
 *
 * The pre-rendered greeting plays at once while the session connects; the vendor's audio
 * starts after it. A session that fails to open, closes, stalls or sends garbage ends in the
 * apology and the hand-off: reconnecting mid-call is not attempted.
 */
export async function runRealtimeConversation (ctx: VerbContext, options: ConverseOptions, settings: ResolvedRealtime, deps: RealtimeDeps = {}): Promise<ConverseResult> {
  if (ctx.mediaMode !== 'stream') throw new PhoneAgentError('CONFIG_INVALID', 'realtime conversations need stream media (media.mode: stream)')
  const agent = ctx.agent?.config ?? agentSchema.parse({})
  const log = ctx.log.child({ verb: 'converse', mode: 'realtime', vendor: settings.vendor })
  const profile = profileForCall(ctx, agent, options)
  const language = options.language ?? profile.language
  const key = agent.operatorKey !== false && profile.fallbackTarget !== undefined ? agent.operatorKey : undefined
  const operator = new OperatorKeyLane(ctx.channel, key)
  const endings = new RealtimeEndings(ctx, { agent, language, voice: options.voice ?? ctx.voice, log, operator, fallbackTarget: profile.fallbackTarget })
  log.info({ known: profile.contact !== undefined, open: profile.open, language }, 'conversation started')
  try {
    return await new RealtimeCall(ctx, options, settings, deps, { agent, log, profile, language, operator, endings }).run()
  } finally {
    operator.dispose()
  }
}

interface CallParts {
  readonly agent: AgentConfig
  readonly log: Logger
  readonly profile: CallProfile
  readonly language: string
  readonly operator: OperatorKeyLane
  readonly endings: RealtimeEndings
}

class RealtimeCall {
  readonly #ctx: VerbContext
  readonly #options: ConverseOptions
  readonly #settings: ResolvedRealtime
  readonly #deps: RealtimeDeps
  readonly #p: CallParts
  readonly #startedAt = Date.now()

  constructor (ctx: VerbContext, options: ConverseOptions, settings: ResolvedRealtime, deps: RealtimeDeps, parts: CallParts) {
    this.#ctx = ctx
    this.#options = options
    this.#settings = settings
    this.#deps = deps
    this.#p = parts
  }

  async run (): Promise<ConverseResult> {
    const ctx = this.#ctx
    const { endings, operator, log } = this.#p
    const closeSession = new AbortController()
    let opening: Promise<RealtimeSession> | undefined
    const closeVendor = (): void => {
      closeSession.abort(new PhoneAgentError('TURN_OVER', 'the realtime conversation ended'))
      void opening?.then((s) => { s.close() }, () => {})
    }
    try {
      await answer(ctx)
      const stream = await ctx.stream()
      const vendor = this.#deps.vendor ?? createRealtimeVendor(this.#settings, this.#deps.env)
      opening = vendor.open({
        instructions: systemPrompt(this.#p.agent, this.#p.profile, { instructions: this.#options.instructions }),
        tools: toolDefinitions(this.#toolContext()).map((d) => ({ name: d.function.name, description: d.function.description ?? '', parameters: d.function.parameters })),
        language: this.#p.language,
        voice: this.#settings.voice,
        openTimeoutMs: this.#settings.openTimeoutMs,
        signal: AbortSignal.any([ctx.signal, closeSession.signal]),
        log,
      })
      // Awaited after the greeting; a failure meanwhile must not count as unhandled.
      opening.catch(() => {})
      const greeting = this.#options.greeting === undefined ? greetingText(this.#p.agent, this.#p.profile) : this.#options.greeting
      let greeted = greeting === false
      let told = false
      let feed: EventFeed | undefined
      for (;;) {
        try {
          if (!greeted) {
            greeted = true
            await endings.say(greeting as string, this.#phase())
          }
          const session = await opening
          feed ??= new EventFeed(session.events, this.#settings.vendor)
          // The model is told what the caller heard, so it does not greet them a second time.
          if (greeting !== false && !told) { told = true; session.sayContext(greeting) }
          return await this.#exchange(stream, session, feed)
        } catch (err) {
          if (!operator.pressed || !ctx.channel.isUp || this.#options.signal?.aborted === true) throw err
          log.info({ turn: endings.turns }, 'operator key pressed')
          ctx.keypad.flush()
          operator.next()
          const handed = await endings.handOff('transferred')
          if (handed !== undefined) return handed
          await endings.say(endings.text(this.#p.agent.transferFailed), this.#phase())
        }
      }
    } catch (err) {
      if (isCallEnded(err) || !ctx.channel.isUp || this.#options.signal?.aborted === true) throw err
      // The vendor is done with: its socket closes before the apology and the hand-off.
      closeVendor()
      return await endings.fallBack(err, this.#settings.vendor)
    } finally {
      closeVendor()
    }
  }

  /** The vendor conversation itself until a tool, the clock or a failure ends it. */
  async #exchange (stream: StreamSession, session: RealtimeSession, feed: EventFeed): Promise<ConverseResult> {
    const agent = this.#p.agent
    const remaining = agent.maxCallSeconds * 1000 - (Date.now() - this.#startedAt)
    const exchange = new RealtimeExchange({
      ctx: this.#ctx,
      stream,
      session,
      feed,
      vendor: this.#settings.vendor,
      model: this.#settings.model,
      endings: this.#p.endings,
      log: this.#p.log,
      deadAirMs: agent.deadlines.deadAirMs,
      maxMs: Math.max(0, remaining),
      maxTurns: this.#options.maxTurns,
      bargeIn: this.#ctx.streamConfig.bargeIn,
      agent,
      validate: (name, args) => validateToolCall(name, args, this.#toolContext()),
      lookupContact: (n) => this.#ctx.agent?.lookupContact(n),
      signal: this.#phase(),
    })
    return await exchange.run()
  }

  #toolContext (): ToolContext {
    return {
      targets: this.#p.profile.offeredTargets,
      defaultCountry: this.#ctx.agent?.defaultCountry ?? 'IT',
      enabled: this.#options.tools ?? this.#p.agent.tools,
      ...(this.#options.targetDescriptions ? { targetDescriptions: this.#options.targetDescriptions } : {}),
    }
  }

  #phase (): AbortSignal {
    return AbortSignal.any([this.#ctx.signal, this.#p.operator.phase, ...(this.#options.signal ? [this.#options.signal] : [])])
  }
}

