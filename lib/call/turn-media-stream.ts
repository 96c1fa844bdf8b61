import { PhoneAgentError, abortReason } from '../errors.ts'
import type { InboundFrame } from '../media/stream/index.ts'
import type { Vad, VadEvent } from '../media/vad/index.ts'
import type { SttSession } from '../speech/stt/types.ts'
import type { VerbContext } from './context.ts'
import type { StreamSession } from './stream/session.ts'
import { FilesTurnMedia } from './turn-media-files.ts'
import type { Heard, ListenOptions, SpeakOptions, SpokenResult, TurnMedia } from './turn-media.ts'
import { answer } from './verbs/answer.ts'

export interface StreamMediaOptions {
  /** Caller speech that interrupts the agent (false: the agent always finishes). */
  readonly bargeIn?: boolean
  /** Voiced speech needed before it counts as barge-in: a cough or an "mm" must not. */
  readonly bargeInMinMs?: number
  /** Audio kept from before the detected start of speech, so the first syllable reaches STT. */
  readonly preRollMs?: number
  /** Silence that ends the caller's turn. */
  readonly endSilenceMs?: number
}

/** What the caller heard of an interrupted reply. */
export interface BargeIn {
  readonly at: number
  /** The sentence that was playing (0-based) and how long it had played when the caller spoke. */
  readonly sentence: number
  readonly heardMs: number
}

export interface StreamSpokenResult extends SpokenResult {
  readonly bargeIn?: BargeIn | undefined
}

class BargeInSignal extends Error {
  constructor (readonly at: number) { super('caller barged in') }
}

const FRAME_MS = 20
/**
 * How far back the ring reaches beyond the pre-roll: the VAD reports an onset only after
 * confirming it (its minimum speech, plus gaps it tolerates), so the frames from the onset on
 * must still be there when it does.
 */
const CONFIRMATION_SLACK_MS = 2000
/**
 * A listen whose frames stop (no datagram at all, not even FreeSWITCH's 0xFF fill) ends the
 * caller's turn after its end-of-speech silence plus this: audio that never comes is silence.
 */
const STALLED_STREAM_GRACE_MS = 500

/**
 * Streaming mode: the caller's audio arrives as 20 ms frames over unicast; a VAD finds the
 * start and end of each utterance and the frames go to the streaming recogniser as they come,
 * so the final transcript is ready right after the caller stops. While the agent speaks, the
 * same frames are watched for barge-in: the caller's speech clears our queued audio within a
 * frame and the speech that interrupted is handed to the next `listen` with its pre-roll.
 */
export class StreamTurnMedia implements TurnMedia {
  readonly #ctx: VerbContext
  readonly #opts: Required<StreamMediaOptions>
  readonly #files: FilesTurnMedia
  #session: StreamSession | undefined
  #unsubscribe: (() => void) | undefined
  /** The last `preRollMs` of frames, oldest first. */
  #ring: InboundFrame[] = []
  #consumer: ((frame: InboundFrame) => void) | undefined
  /** Speech that started while the agent talked: its VAD and frames, for the next listen(). */
  #carried: { vad: Vad, frames: InboundFrame[], startAt: number } | undefined

  constructor (ctx: VerbContext, options: StreamMediaOptions = {}) {
    this.#ctx = ctx
    this.#opts = {
      bargeIn: options.bargeIn ?? true,
      bargeInMinMs: options.bargeInMinMs ?? 300,
      preRollMs: options.preRollMs ?? 300,
      endSilenceMs: options.endSilenceMs ?? 500,
    }
    // Sentence rendering and ordered playback are the same in both modes; the play verb sends
    // the audio over the stream when the call is in stream mode.
    this.#files = new FilesTurnMedia(ctx)
  }

  async listen (options: ListenOptions, signal: AbortSignal): Promise<Heard> {
    const stt = this.#ctx.stt
    if (stt === undefined) throw new PhoneAgentError('CONFIG_INVALID', 'listening needs a speech-to-text provider (speech.stt)')
    const session = await this.#start()
    const sig = AbortSignal.any([this.#ctx.signal, signal])
    if (sig.aborted) throw abortReason(sig)
    const carried = this.#carried
    this.#carried = undefined
    const vad = carried?.vad ?? session.newVad({ endSilenceMs: this.#opts.endSilenceMs })
    const sttAbort = new AbortController()
    const sttSignal = AbortSignal.any([sig, sttAbort.signal])
    let stream: SttSession | undefined
    let transcript: Promise<{ text: string, confidence: number | undefined }> | undefined
    let startedAt = carried?.startAt
    const began = Date.now()

    const openStt = (frames: readonly InboundFrame[]): void => {
      stream = stt.stream({ sampleRate: session.rate, signal: sttSignal, language: options.language, hints: options.hints })
      transcript = collect(stream)
      transcript.catch(() => {})
      for (const f of frames) stream.write(pcm(f))
    }
    if (carried) openStt(carried.frames)

    try {
      const ended = await new Promise<{ endAt: number } | 'no-input'>((resolve, reject) => {
        // Wall-clock bound once the caller has spoken: a stream that stops delivering frames
        // (the caller's side went away without a hangup yet) must not hold the turn.
        let lastFrameAt = Date.now()
        const stalled = setInterval(() => {
          if (stream !== undefined && Date.now() - lastFrameAt > this.#opts.endSilenceMs + STALLED_STREAM_GRACE_MS) {
            finish({ endAt: lastFrameAt })
          }
        }, FRAME_MS * 5)
        const noInput = setTimeout(() => { if (stream === undefined) finish('no-input') }, options.noInputMs)
        const maxSpeech = setTimeout(() => { finish({ endAt: Date.now() }) }, options.noInputMs + options.maxSpeechMs)
        const onAbort = (): void => { cleanup(); reject(abortReason(sig)) }
        const cleanup = (): void => {
          clearTimeout(noInput)
          clearTimeout(maxSpeech)
          clearInterval(stalled)
          sig.removeEventListener('abort', onAbort)
          this.#consumer = undefined
        }
        const finish = (v: { endAt: number } | 'no-input'): void => { cleanup(); resolve(v) }
        sig.addEventListener('abort', onAbort, { once: true })
        this.#consumer = (frame) => {
          lastFrameAt = Date.now()
          const event: VadEvent | undefined = vad.push(frame.samples, frame.mediaMs)
          if (stream === undefined) {
            if (event?.type === 'speech-start') {
              startedAt = Date.now() - (frame.mediaMs - event.at)
              // The recogniser gets the utterance from its onset (minus the pre-roll), not from
              // where the VAD confirmed it some hundred milliseconds later.
              const from = event.at - this.#opts.preRollMs
              openStt(this.#ring.filter((f) => f.mediaMs >= from))
            }
            return
          }
          stream.write(pcm(frame))
          if (event?.type === 'speech-end') finish({ endAt: Date.now() - (frame.mediaMs - event.endAt) })
        }
      })
      if (ended === 'no-input') return { kind: 'no-input' }
      stream?.end()
      const result = await (transcript as Promise<{ text: string, confidence: number | undefined }>)
      const transcribedAt = Date.now()
      const start = startedAt ?? began
      if (result.text === '') return { kind: 'no-match', startedAt: start, endedAt: ended.endAt }
      return {
        kind: 'speech',
        text: result.text,
        confidence: result.confidence,
        startedAt: start,
        endedAt: ended.endAt,
        transcribedAt,
        audioMs: Math.max(0, ended.endAt - start),
      }
    } finally {
      sttAbort.abort(new PhoneAgentError('CALL_ABORTED', 'listen finished'))
    }
  }

  async speak (sentences: AsyncIterable<string>, options: SpeakOptions, signal: AbortSignal): Promise<StreamSpokenResult> {
    const session = await this.#start()
    const barge = new AbortController()
    let playing = -1
    let playingSince = 0
    let heard = 0
    const vad = session.newVad({ minSpeechMs: this.#opts.bargeInMinMs, endSilenceMs: this.#opts.endSilenceMs })
    const collected: InboundFrame[] = []
    if (this.#opts.bargeIn) {
      this.#consumer = (frame) => {
        collected.push(frame)
        if (collected.length > 200) collected.shift()
        const event = vad.push(frame.samples, frame.mediaMs)
        if (event?.type !== 'speech-start' || barge.signal.aborted || playing < 0) return
        // Hand the speech over to the next listen(): the VAD keeps its state (speech is on),
        // and the frames from just before the onset go to the recogniser first.
        const onset = event.at - this.#opts.preRollMs
        this.#carried = { vad, frames: collected.filter((f) => f.mediaMs >= onset), startAt: Date.now() - (frame.mediaMs - event.at) }
        barge.abort(new BargeInSignal(Date.now()))
      }
    }
    try {
      const result = await this.#files.speak(sentences, {
        ...options,
        onPlayStart: (i) => { playing = i; playingSince = Date.now(); options.onPlayStart?.(i) },
        onPlayed: (i) => { heard = i + 1; options.onPlayed?.(i) },
      }, AbortSignal.any([signal, barge.signal]))
      return result
    } catch (err) {
      const reason: unknown = barge.signal.reason
      if (!(reason instanceof BargeInSignal) || signal.aborted || this.#ctx.signal.aborted) throw err
      this.#ctx.log.info({ sentence: playing }, 'caller barged in')
      return {
        sentences: playing + 1,
        heard,
        ttsCharacters: 0,
        bargeIn: { at: reason.at, sentence: playing, heardMs: Math.max(0, reason.at - playingSince) },
      }
    } finally {
      this.#consumer = undefined
    }
  }

  /** Start the stream (answering first) and route its frames through the ring buffer. */
  async #start (): Promise<StreamSession> {
    if (this.#session !== undefined && !this.#session.endpoint.closed) return this.#session
    // A stream whose endpoint closed is replaced by a fresh one.
    this.#unsubscribe?.()
    this.#session = undefined
    this.#ring = []
    await answer(this.#ctx)
    const session = await this.#ctx.stream()
    if (this.#session !== undefined) return this.#session
    this.#session = session
    const keep = Math.ceil((this.#opts.preRollMs + CONFIRMATION_SLACK_MS) / FRAME_MS)
    this.#unsubscribe = session.endpoint.onFrame((frame) => {
      this.#ring.push(frame)
      if (this.#ring.length > keep) this.#ring.shift()
      this.#consumer?.(frame)
    })
    this.#ctx.signal.addEventListener('abort', () => { this.#unsubscribe?.() }, { once: true })
    return session
  }
}

function pcm (frame: InboundFrame): Buffer {
  return Buffer.from(frame.samples.buffer, frame.samples.byteOffset, frame.samples.byteLength)
}

/** Join the final results of a recogniser session into one transcript. */
async function collect (session: SttSession): Promise<{ text: string, confidence: number | undefined }> {
  const finals: string[] = []
  let confidence: number | undefined
  for await (const r of session.results) {
    if (!r.isFinal) continue
    if (r.text.trim() !== '') finals.push(r.text.trim())
    confidence = r.confidence ?? confidence
  }
  return { text: finals.join(' '), confidence }
}
