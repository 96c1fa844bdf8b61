import { routineAbort } from '../../errors.ts'
import type { InboundFrame } from '../../media/stream/index.ts'
import { HeldPcm } from '../../media/held-pcm.ts'
import { AbortLink } from '../../providers/abort-link.ts'
import type { HeldUtterance, SttProvider, SttSession } from '../../speech/stt/types.ts'

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
 * The audio is copied into a few blocks (HeldPcm), not kept as frames: held for the whole
 * utterance, per-frame objects were promoted and filled the old generation. A recogniser that
 * transcribes whole utterances reads it from here at its end (`readsUtterance`), so the audio
 * is held once, and at a byte per sample on a G.711 line; one that streams is written each frame
 * as 16-bit PCM and may keep it (a failover replays it), so it is held as that.
 */
export class UtteranceRecognition implements HeldUtterance {
  readonly #audio: HeldPcm
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
    // The provider is the same for every session of the utterance: the first says how it reads.
    this.#audio = new HeldPcm({ compand: this.#session.readsUtterance === true })
    for (const f of initial) this.push(f)
  }

  /** The utterance's audio so far, ms. */
  get audioMs (): number {
    return this.#audioMs
  }

  push (frame: InboundFrame): void {
    const samples = frame.samples
    const copy = this.#audio.append(samples)
    const ms = samples.length * 1000 / frame.sampleRate
    this.#audioMs += ms
    if (this.#ended) return
    // Held as codes only for a session that reads the utterance itself: `copy` is then undefined.
    if (copy !== undefined && this.#session.readsUtterance !== true) this.#session.write(copy)
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
    if (this.#session.readsUtterance !== true) for (const chunk of this.#audio.chunks(this.#opts.sampleRate / 10 * 2)) this.#session.write(chunk)
    this.#sentMs = this.#audioMs
  }

  /** HeldUtterance, for a session that reads the utterance at its end. */
  pcm (maxBytes: number): Buffer {
    return this.#audio.pcm(maxBytes)
  }

  dispose (): void {
    this.#abort.abort(routineAbort('TURN_OVER', 'recognition no longer needed'))
  }

  #open (): void {
    this.#ended = false
    this.#sentMs = 0
    this.#abort = new AbortLink(this.#opts.signals)
    this.#session = this.#stt.stream({ sampleRate: this.#opts.sampleRate, signal: this.#abort.signal, language: this.#opts.language, hints: this.#opts.hints, utterance: this })
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
