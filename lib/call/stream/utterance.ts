import { routineAbort } from '../../errors.ts'
import type { InboundFrame } from '../../media/stream/index.ts'
import { PcmAccumulator } from '../../media/pcm-accumulator.ts'
import { AbortLink } from '../../providers/abort-link.ts'
import type { SttProvider, SttSession } from '../../speech/stt/types.ts'

export interface RecognitionOptions {
  readonly sampleRate: number
  readonly language: string
  readonly hints?: readonly string[] | undefined
  /** Any of these aborting ends the recognition (the call's and the listen's: no combined signal is made for them). */
  readonly signals: readonly AbortSignal[]
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
 * The audio is copied into one buffer (PcmAccumulator), not kept as frames: held for the whole
 * utterance, per-frame objects were promoted and filled the old generation.
 */
export class UtteranceRecognition {
  readonly #audio = new PcmAccumulator()
  #audioMs = 0
  /** Recogniser sessions finished and then thrown away because the caller went on. */
  discarded = 0
  /** Audio sent to sessions that were thrown away, ms. */
  discardedMs = 0
  readonly #stt: SttProvider
  readonly #opts: RecognitionOptions
  #session!: SttSession
  /** The session's own signal, following `signals`: one per session, let go of at its end. */
  #abort!: AbortLink
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
    return this.#audioMs
  }

  push (frame: InboundFrame): void {
    const samples = frame.samples
    const copy = this.#audio.append(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength))
    const ms = samples.length * 1000 / frame.sampleRate
    this.#audioMs += ms
    if (this.#ended) return
    this.#session.write(copy)
    this.#sentMs += ms
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
    // In 100 ms pieces: a streaming recogniser takes each as one request (Google's limit is far above).
    for (const chunk of this.#audio.chunks(this.#opts.sampleRate / 10 * 2)) this.#session.write(chunk)
    this.#sentMs = this.#audioMs
  }

  dispose (): void {
    this.#abort.abort(routineAbort('TURN_OVER', 'recognition no longer needed'))
  }

  #open (): void {
    this.#ended = false
    this.#sentMs = 0
    this.#abort = new AbortLink(this.#opts.signals)
    this.#session = this.#stt.stream({ sampleRate: this.#opts.sampleRate, signal: this.#abort.signal, language: this.#opts.language, hints: this.#opts.hints })
    this.#result = collect(this.#session)
    this.#result.catch(() => {})
  }
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
