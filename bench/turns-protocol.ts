/**
 * What bench/turns.ts (the driver: the simulated FreeSWITCH) and bench/turns-server.ts (the
 * server under test and its provider fakes, a child process) share: the fixed provider
 * latencies, the scripted conversation, and the messages over the fork IPC channel. Every
 * request carries an id that its reply echoes.
 */
import type { LatencyInput } from '../lib/records/types.ts'
import type { LoopDelay } from './capacity-protocol.ts'

/** The fixed provider latencies the fakes are set to. */
export const LATENCY = { sttMs: 150, llmSentenceMs: 200, ttsMs: 100, endSilenceMs: 500 } as const
export const TURNS_DID = '+390212345678'

/**
 * The agent's reply for scripted conversation `n`. The number makes every sentence unique, so
 * the TTS stub's cache never answers for another call: each call pays for its own synthesis,
 * as in a real conversation. It sits mid-sentence (never before a `.`, which the sentence
 * splitter rightly holds back on).
 */
export function replySentences (n: number): string[] {
  return [
    `Certo, cliente ${n}, le spiego subito come funziona. `,
    `La pratica ${n} è attiva dal lunedì al venerdì. `,
    `Posso aiutarla in altro, cliente ${n}?`,
  ]
}

export interface RigOptions {
  readonly bargeIn: boolean
  readonly script: string
}

/** One latency waterfall (wall-clock ms), with the FreeSWITCH channel uuid of its call. */
export type Mark = LatencyInput & { readonly uuid: string }

export type TurnsRequest =
  /** Queue the provider replies for conversations first .. first + count - 1 (in request order). */
  | { readonly id: number, readonly type: 'script', readonly first: number, readonly count: number }
  | { readonly id: number, readonly type: 'window-start' }
  | { readonly id: number, readonly type: 'window-end' }
  | { readonly id: number, readonly type: 'results' }
  | { readonly id: number, readonly type: 'stop' }

export interface TurnsResults {
  readonly marks: readonly Mark[]
  /** TTS renders that missed the cache since start-up (start-up greetings included). */
  readonly renders: number
  /** Per LLM reply, in order: wall time its last text arrived. */
  readonly lastText: readonly number[]
}

export type TurnsReply =
  | { readonly type: 'ready', readonly port: number }
  | { readonly type: 'fatal', readonly message: string }
  | { readonly id: number, readonly type: 'ok' }
  | { readonly id: number, readonly type: 'window', readonly loop: LoopDelay, readonly cpu: number }
  | { readonly id: number, readonly type: 'results', readonly results: TurnsResults }
  | { readonly id: number, readonly type: 'stopped' }
