import { PhoneAgentError } from '../../errors.ts'
import type { Channel } from '../../freeswitch/channel.ts'
import { AbortLink } from '../../providers/abort-link.ts'

/** No key, nothing to unsubscribe: one function for every such call. */
function noKey (): void {}

/**
 * The operator key's lane: a DTMF digit that acts at once, whatever the conversation is doing.
 * Pressed during a phase (greeting, listening, a reply) it aborts that phase with OPERATOR_KEY;
 * pressed again while the hand-off transfer rings, it stops the ringing (the caller gave up
 * waiting) and the conversation goes on.
 * `parents` (the call's signal, the script's): the phase's work follows them too, so that its
 * signal is the one a piece of work waits on, instead of an `AbortSignal.any` of them and the key
 * (abort-link.ts: ~1 KB of heap a signal on Node 20).
 * A piece of the phase's work (a turn, a phrase) takes a link of its own (`work()`), which the key
 * aborts, and hands it back at its end (`release()`): no signal for the phase itself lives beside
 * the turn's for the whole call (one AbortSignal less a talking call, issue 18). `phase` is that
 * signal, made only when asked for (the realtime conversation's session).
 */
export class OperatorKeyLane {
  readonly #parents: ReadonlyArray<AbortSignal | undefined>
  /** The phase's own signal, made when first asked for. */
  #phase: AbortLink | undefined
  /** The work in progress (a turn, a phrase), which the key aborts with the phase. */
  #work: AbortLink | undefined
  /** The key's abort of the current phase (not a parent's): work started later starts aborted. */
  #pressed: PhoneAgentError | undefined
  #ringing: AbortController | undefined
  readonly #unsubscribe: () => void

  constructor (channel: Channel, key: string | undefined, parents: ReadonlyArray<AbortSignal | undefined> = []) {
    this.#parents = parents
    this.#unsubscribe = key === undefined
      ? noKey
      : channel.onDtmf((digit) => {
        if (digit !== key) return
        if (this.#ringing !== undefined) {
          this.#ringing.abort(new PhoneAgentError('OPERATOR_KEY', 'the caller stopped the ringing transfer'))
          return
        }
        // Already ended, by the key or by a parent (the call is over): nothing to press.
        if (this.#pressed !== undefined || this.#parents.some((p) => p?.aborted === true)) return
        const reason = new PhoneAgentError('OPERATOR_KEY', 'the caller pressed the operator key')
        this.#pressed = reason
        this.#phase?.abort(reason)
        this.#work?.abort(reason)
      })
  }

  /** Aborted when the key is pressed during the current phase, or when a parent is. */
  get phase (): AbortSignal {
    this.#phase ??= this.#link()
    return this.#phase.signal
  }

  /** Whether the key ended the current phase. */
  get pressed (): boolean { return this.#pressed !== undefined }

  /**
   * A link for one piece of the phase's work, following the parents; the key aborts it (at once,
   * when the key already ended the phase). Its owner may abort it too (a turn's barge-in); hand
   * it back with release() at the end.
   */
  work (): AbortLink {
    const link = this.#link()
    this.#work = link
    return link
  }

  /** The work is over: the link lets go of the parents, and the lane of the link. */
  release (link: AbortLink): void {
    link.dispose()
    if (this.#work === link) this.#work = undefined
  }

  /** After handling a press: a new phase the key can abort again. */
  next (): void {
    this.#phase?.dispose()
    this.#phase = undefined
    this.#work = undefined
    this.#pressed = undefined
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
    // The call's signal outlives the conversation: it must not keep the phase's listeners.
    this.#phase?.dispose()
    this.#work?.dispose()
    this.#work = undefined
  }

  #link (): AbortLink {
    const pressed = this.#pressed
    if (pressed === undefined) return new AbortLink(this.#parents)
    const link = new AbortLink([])
    link.abort(pressed)
    return link
  }
}
