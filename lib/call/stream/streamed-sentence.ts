import { abortReason } from '../../errors.ts'
import type { PlayoutResult } from '../../media/stream/index.ts'
import { streamSentence, type PcmSpeaker } from '../../speech/stream-pcm.ts'
import type { StreamSession } from './session.ts'

/**
 * One sentence synthesised as a stream, started ahead of its turn to play: the audio is pulled
 * as the provider produces it and kept until the sentence plays, so the first sentence starts
 * at its first chunk and the next ones are already under way. `ready` resolves at the first
 * audio (or the end, or the failure).
 */
export class StreamedSentence {
  readonly ready: Promise<void>
  readonly #chunks: Int16Array[] = []
  #done = false
  #error: unknown
  #wake: (() => void) | undefined

  constructor (speaker: PcmSpeaker, text: string, options: { rate: number, voice?: string | undefined, language?: string | undefined, signal: AbortSignal }) {
    let first!: () => void
    this.ready = new Promise((resolve) => { first = resolve })
    void (async () => {
      try {
        for await (const samples of streamSentence(speaker, text, options)) {
          this.#chunks.push(samples)
          first()
          this.#notify()
        }
      } catch (err) {
        this.#error = err
      } finally {
        this.#done = true
        first()
        this.#notify()
      }
    })()
  }

  /** Fails like the synthesis did when nothing was heard of it at all. */
  async started (): Promise<this> {
    await this.ready
    if (this.#chunks.length === 0 && this.#error !== undefined) throw this.#error
    return this
  }

  /**
   * Enqueue the audio on the stream as it comes; resolves when its last frame was sent. `watch`
   * hears when the sentence runs dry mid-way (everything that arrived was sent and the synthesis
   * has not produced more: the caller hears silence) and when its audio flows again, and
   * `firstFrame` when its first frame is handed to the socket.
   */
  async play (session: StreamSession, signal: AbortSignal, watch?: { starved: () => void, sound: () => void, firstFrame?: () => void }): Promise<void> {
    if (signal.aborted) throw abortReason(signal)
    const onAbort = (): void => { session.endpoint.clear(); this.#notify() }
    signal.addEventListener('abort', onAbort, { once: true })
    let last: Promise<PlayoutResult> | undefined
    let waits = 0
    /** The wait for more audio in progress (0: none). */
    let waitingOn = 0
    let starved = false
    try {
      for (;;) {
        const chunk = this.#chunks.shift()
        if (chunk !== undefined) {
          if (starved) { starved = false; watch?.sound() }
          last = session.endpoint.enqueue(chunk, last === undefined ? () => { watch?.firstFrame?.() } : undefined).done
          continue
        }
        if (signal.aborted) throw abortReason(signal)
        if (this.#done) break
        const wait = ++waits
        waitingOn = wait
        if (watch !== undefined) {
          void last?.then(() => {
            if (waitingOn === wait && !starved && !signal.aborted) { starved = true; watch.starved() }
          })
        }
        await new Promise<void>((resolve) => { this.#wake = resolve })
        waitingOn = 0
      }
      // A provider failing mid-sentence: what arrived plays, then the reply stops.
      if (this.#error !== undefined) {
        if (last !== undefined) await last
        throw this.#error
      }
      const result = last === undefined ? undefined : await last
      if (signal.aborted) throw abortReason(signal)
      if (result?.status === 'closed') throw session.closedError()
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  #notify (): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }
}
