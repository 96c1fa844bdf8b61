import { routineAbort } from '../../errors.ts'
import type { InboundFrame } from '../../media/stream/index.ts'
import type { SttProvider, SttSession } from '../../speech/stt/types.ts'

export interface RecognitionOptions {
  readonly sampleRate: number
  readonly language: string
  readonly hints?: readonly string[] | undefined
  readonly signal: AbortSignal
}

export interface Recognised {
  readonly text: string
  readonly confidence: number | undefined
}

/**
 * One caller utterance being recognised: its frames from the onset (with the pre-roll) and a
 * live recogniser session fed as they arrive, so the transcript is ready right after the
 * caller stops. When the caller goes on after a tentative end (adaptive endpointing), the
 * finished session is dropped and a fresh one replays the whole utterance: the transcript is
 * always of everything said. Dropped sessions are counted (their audio is still billed).
 */
export class UtteranceRecognition {
  readonly frames: InboundFrame[] = []
  /** Recogniser sessions finished and then thrown away because the caller went on. */
  discarded = 0
  /** Audio sent to sessions that were thrown away, ms. */
  discardedMs = 0
  readonly #stt: SttProvider
  readonly #opts: RecognitionOptions
  #session!: SttSession
  #abort!: AbortController
  #result!: Promise<Recognised>
  #sentMs = 0
  #ended = false

  constructor (stt: SttProvider, opts: RecognitionOptions, initial: readonly InboundFrame[]) {
    this.#stt = stt
    this.#opts = opts
    this.#open()
    for (const f of initial) this.push(f)
  }

  /** The utterance's audio so far, ms. */
  get audioMs (): number {
    return this.frames.reduce((ms, f) => ms + f.samples.length * 1000 / f.sampleRate, 0)
  }

  push (frame: InboundFrame): void {
    this.frames.push(frame)
    if (this.#ended) return
    this.#session.write(pcm(frame))
    this.#sentMs += frame.samples.length * 1000 / frame.sampleRate
  }

  /** The caller paused: the transcript of what was said so far. */
  finish (): Promise<Recognised> {
    if (!this.#ended) {
      this.#ended = true
      this.#session.end()
    }
    return this.#result
  }

  /** The caller went on: drop the finished session, replay everything into a new one. */
  reopen (): void {
    if (!this.#ended) return
    this.discarded++
    this.discardedMs += this.#sentMs
    this.#abort.abort(routineAbort('TURN_OVER', 'the caller went on: recognition restarted'))
    this.#open()
    for (const f of this.frames) {
      this.#session.write(pcm(f))
      this.#sentMs += f.samples.length * 1000 / f.sampleRate
    }
  }

  dispose (): void {
    this.#abort.abort(routineAbort('TURN_OVER', 'recognition no longer needed'))
  }

  #open (): void {
    this.#ended = false
    this.#sentMs = 0
    this.#abort = new AbortController()
    const signal = AbortSignal.any([this.#opts.signal, this.#abort.signal])
    this.#session = this.#stt.stream({ sampleRate: this.#opts.sampleRate, signal, language: this.#opts.language, hints: this.#opts.hints })
    this.#result = collect(this.#session)
    this.#result.catch(() => {})
  }
}

function pcm (frame: InboundFrame): Buffer {
  return Buffer.from(frame.samples.buffer, frame.samples.byteOffset, frame.samples.byteLength)
}

/** Join the final results of a recogniser session into one transcript. */
async function collect (session: SttSession): Promise<Recognised> {
  const finals: string[] = []
  let confidence: number | undefined
  for await (const r of session.results) {
    if (!r.isFinal) continue
    if (r.text.trim() !== '') finals.push(r.text.trim())
    confidence = r.confidence ?? confidence
  }
  return { text: finals.join(' '), confidence }
}
