import { PhoneAgentError } from '../../errors.ts'
import type { Channel } from '../../freeswitch/channel.ts'
import { AbortLink } from '../../providers/abort-link.ts'

/**
 * The operator key's lane: a DTMF digit that acts at once, whatever the conversation is doing.
 * Pressed during a phase (greeting, listening, a reply) it aborts that phase with OPERATOR_KEY;
 * pressed again while the hand-off transfer rings, it stops the ringing (the caller gave up
 * waiting) and the conversation goes on.
 * `parents` (the call's signal, the script's): the phase follows them too, so that it is the one
 * signal a phase's work waits on, instead of an `AbortSignal.any` of them and the phase (one
 * AbortSignal less a call, ~1 KB of heap on Node 20: abort-link.ts).
 */
export class OperatorKeyLane {
  readonly #parents: ReadonlyArray<AbortSignal | undefined>
  #phase: AbortLink
  /** The key aborted the current phase (not a parent). */
  #pressed = false
  #ringing: AbortController | undefined
  readonly #unsubscribe: () => void

  constructor (channel: Channel, key: string | undefined, parents: ReadonlyArray<AbortSignal | undefined> = []) {
    this.#parents = parents
    this.#phase = new AbortLink(parents)
    this.#unsubscribe = key === undefined
      ? () => {}
      : channel.onDtmf((digit) => {
        if (digit !== key) return
        if (this.#ringing !== undefined) {
          this.#ringing.abort(new PhoneAgentError('OPERATOR_KEY', 'the caller stopped the ringing transfer'))
          return
        }
        if (this.#phase.signal.aborted) return
        this.#pressed = true
        this.#phase.abort(new PhoneAgentError('OPERATOR_KEY', 'the caller pressed the operator key'))
      })
  }

  /** Aborted when the key is pressed during the current phase, or when a parent is. */
  get phase (): AbortSignal { return this.#phase.signal }

  /** Whether the key ended the current phase. */
  get pressed (): boolean { return this.#pressed }

  /** After handling a press: a new phase the key can abort again. */
  next (): void {
    this.#phase.dispose()
    this.#phase = new AbortLink(this.#parents)
    this.#pressed = false
  }

  /** Run a transfer whose ringing the key may stop; `signal` is for the transfer verb. */
  async whileRinging<T> (fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ringing = new AbortController()
    this.#ringing = ringing
    try {
      return await fn(ringing.signal)
    } finally {
      this.#ringing = undefined
    }
  }

  dispose (): void {
    this.#unsubscribe()
    // The call's signal outlives the conversation: it must not keep the phase's listener.
    this.#phase.dispose()
  }
}
