import type { Logger } from 'pino'
import { toE164 } from '../numbers/e164.ts'
import type { VerbContext } from './context.ts'
import { CallStatus } from './call-status.ts'
import { Keypad } from './keypad.ts'
import { answer } from './verbs/answer.ts'
import { ask, type AskOptions, type AskResult } from './verbs/ask.ts'
import { converse, type ConverseOptions, type ConverseResult } from './verbs/converse.ts'
import { digits, type DigitsOptions } from './verbs/digits.ts'
import { hangup } from './verbs/hangup.ts'
import { play, type PlayOptions } from './verbs/play.ts'
import { record, type Recording, type RecordOptions } from './verbs/record.ts'
import { say, type SayOptions } from './verbs/say.ts'
import { transfer, type TransferResult } from './verbs/transfer.ts'

/** What a call script sees. Every verb rejects with CallHangupError once the caller is gone. */
export interface Call {
  readonly uuid: string
  /** The dialled number in E.164, or undefined when it was not a number (default route). */
  readonly did: string | undefined
  readonly caller: {
    /** E.164 when the caller ID is a phone number, else undefined (withheld, SIP user, garbage). */
    readonly number: string | undefined
    /** The caller ID exactly as received, printable characters only. For display, never for dialling. */
    readonly raw: string
    readonly name: string
  }
  readonly language: string
  /** The route's free-form `options:` from the config. */
  readonly options: Readonly<Record<string, unknown>>
  readonly log: Logger
  /** Aborted when the call ends (hangup, socket closed) with a typed reason. */
  readonly signal: AbortSignal
  /** Files recorded in this call, in order. */
  readonly recordings: readonly Recording[]

  answer (): Promise<void>
  play (file: string, options?: PlayOptions): Promise<{ durationMs: number }>
  say (text: string, options?: SayOptions): Promise<{ durationMs: number, cached: boolean }>
  record (options?: RecordOptions): Promise<Recording | undefined>
  digits (options?: DigitsOptions): Promise<string>
  transfer (target: string): Promise<TransferResult>
  hangup (cause?: string): Promise<void>
  /** Speak a prompt and listen: the transcript, or a typed no-input / no-match. */
  ask (prompt: string, options?: AskOptions): Promise<AskResult>
  /** The AI conversation (STT -> LLM -> TTS turns with tools and fallbacks), configured by `agent:`. */
  converse (options?: ConverseOptions): Promise<ConverseResult>
}

export interface CallInit {
  readonly ctx: Omit<VerbContext, 'keypad' | 'status'>
  readonly did: string | undefined
  readonly defaultCountry: string
  readonly options: Readonly<Record<string, unknown>>
}

/** Build the script-facing call. Returns the call and a dispose function that removes listeners. */
export function createCall (init: CallInit): { call: Call, ctx: VerbContext, dispose: () => void } {
  const keypad = new Keypad()
  // Object.assign, not a spread: on Node 20 `{ ...init.ctx, keypad, status }` gave every call's
  // context a hidden class of its own (200 calls, 200 maps: 553 B a call in load-heap --talk,
  // helper 14a); properties added one by one follow the same transitions for every call.
  const ctx: VerbContext = Object.assign({}, init.ctx, { keypad, status: new CallStatus() })
  const { channel } = ctx
  // Digits arrive whenever the caller presses them: the keypad hands them to a waiting
  // digits() or keeps them for the next one (type-ahead).
  const unsubscribe = channel.onDtmf((digit) => { keypad.push(digit) })
  const recordings: Recording[] = []
  const data = channel.data
  const call: Call = {
    uuid: channel.uuid,
    did: init.did,
    caller: {
      number: toE164(data.callerNumber, init.defaultCountry),
      raw: data.callerNumber,
      name: data.callerName,
    },
    language: ctx.language,
    options: init.options,
    log: ctx.log,
    signal: ctx.signal,
    recordings,
    // Methods, not arrow functions: under tsx each arrow made per call gets a `name` of its own
    // (esbuild's keepNames), a 256-byte property dictionary. None uses `this`: a script may
    // take `call.say` apart from `call`.
    async answer () { await answer(ctx) },
    async play (file, options) { return await play(ctx, file, options) },
    async say (text, options) { return await say(ctx, text, options) },
    async record (options) {
      const r = await record(ctx, options)
      if (r) recordings.push(r)
      return r
    },
    async digits (options) { return await digits(ctx, options) },
    async transfer (target) { return await transfer(ctx, target) },
    async hangup (cause) { await hangup(ctx, cause) },
    async ask (prompt, options) { return await ask(ctx, prompt, options) },
    async converse (options) { return await converse(ctx, options) },
  }
  return { call, ctx, dispose: unsubscribe }
}
