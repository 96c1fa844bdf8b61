import { PhoneAgentError } from '../../errors.ts'
import type { Channel } from '../../freeswitch/channel.ts'

/**
 * The operator key's lane: a DTMF digit that acts at once, whatever the conversation is doing.
 * Pressed during a phase (greeting, listening, a reply) it aborts that phase with OPERATOR_KEY;
 * pressed again while the hand-off transfer rings, it stops the ringing (the caller gave up
 * waiting) and the conversation goes on.
 */
export class OperatorKeyLane {
  #phase = new AbortController()
  #ringing: AbortController | undefined
  readonly #unsubscribe: () => void

  constructor (channel: Channel, key: string | undefined) {
    this.#unsubscribe = key === undefined
      ? () => {}
      : channel.onDtmf((digit) => {
        if (digit !== key) return
        if (this.#ringing !== undefined) {
          this.#ringing.abort(new PhoneAgentError('OPERATOR_KEY', 'the caller stopped the ringing transfer'))
          return
        }
        if (!this.#phase.signal.aborted) this.#phase.abort(new PhoneAgentError('OPERATOR_KEY', 'the caller pressed the operator key'))
      })
  }

  /** Aborted when the key is pressed during the current phase. */
  get phase (): AbortSignal { return this.#phase.signal }

  get pressed (): boolean { return this.#phase.signal.aborted }

  /** After handling a press: a new phase the key can abort again. */
  next (): void {
    this.#phase = new AbortController()
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
  }
}
