import { PhoneAgentError } from '../errors.ts'
import { FrameHistory, withVadSamples } from '../media/stream/inbound.ts'
import type { InboundFrame } from '../media/stream/index.ts'
import { silentSamples } from '../media/pcm.ts'
import type { BargeInConfig, EndpointingConfig } from '../media/stream/turn-taking.ts'
import type { VoiceDetector } from '../media/vad/index.ts'
import type { VerbContext } from './context.ts'
import { speakSentences } from './sentence-pipeline.ts'
import { BargeInWatcher, type ConfirmedBargeIn } from './stream/barge-in.ts'
import { StreamedSentence } from './stream/streamed-sentence.ts'
import { hear, type CarriedSpeech, type HearDeps } from './stream/hear.ts'
import type { StreamSession } from './stream/session.ts'
import type { Heard, ListenOptions, SpeakOptions, SpokenResult, TurnMedia } from './turn-media.ts'
import { answer } from './verbs/answer.ts'

export interface StreamMediaOptions {
  readonly bargeIn: BargeInConfig
  readonly endpointing: EndpointingConfig
  /** Audio kept from before the detected start of speech, so the first syllable reaches STT. */
  readonly preRollMs: number
  /** The VAD's end-of-speech silence when endpointing is not adaptive. */
  readonly endSilenceMs: number
  /** TTS request to its audio, per sentence. */
  readonly ttsFirstAudioMs?: number | undefined
  /**
   * The VAD's minEnergyDb: no frame quieter than this starts speech, so while none came for a
   * while the history keeps only the pre-roll (FrameHistory). Undefined: the full history always.
   */
  readonly quietBelowDb?: number | undefined
}

const FRAME_MS = 20
/**
 * How far back the ring reaches beyond the pre-roll: the VAD reports an onset only after
 * confirming it (its minimum speech, plus gaps it tolerates), so the frames from the onset on
 * must still be there when it does.
 */
const CONFIRMATION_SLACK_MS = 2000
/**
 * Kept beyond the pre-roll on a quiet line: an onset may lie a little before the first loud
 * frame. Silero dates it from the start of the first window it judges speech, and it judges
 * only windows with a loud sample in them or after one (silero-vad.ts #completeWindow): at most
 * 32 ms before the first loud frame. The classic detector dates it at a loud frame. 100 ms is
 * three times that; each 20 ms less is 320 bytes less per call at 8 kHz (it was 200 ms: 1.6 KB
 * more a call, quiet or talking).
 */
const QUIET_MARGIN_MS = 100

/**
 * Stream mode's media port: the caller's audio arrives as 20 ms frames over unicast and our
 * replies go out the same way; neither `playback` nor `record` is ever used (they would end
 * unicast for good). Listening is stream/hear.ts (VAD, live recognition, adaptive endpointing);
 * speaking is the sentence pipeline enqueuing onto the stream, watched for barge-in
 * (stream/barge-in.ts). Speech that interrupted a reply is carried into the next listen.
 */
export class StreamTurnMedia implements TurnMedia {
  readonly #ctx: VerbContext
  readonly #opts: StreamMediaOptions
  #session: StreamSession | undefined
  #unsubscribe: (() => void) | undefined
  /** The last frames: the pre-roll and the VAD's confirmation delay. */
  readonly #history: FrameHistory
  #consumer: ((frame: InboundFrame) => void) | undefined
  #carried: CarriedSpeech | undefined
  /** Sentences synthesised ahead of their speak (a preemptive reply's first), by text. */
  readonly #ahead = new Map<string, Promise<StreamedSentence>>()

  constructor (ctx: VerbContext, options: StreamMediaOptions) {
    this.#ctx = ctx
    this.#opts = options
    // A frame's mean square never exceeds its peak: below the VAD's level in every sample, it is
    // quiet to any detector (the 1 % absorbs rounding). Without a level every frame is loud: the
    // full history while a detector may confirm an onset, the pre-roll once none can (#onset).
    const db = options.quietBelowDb
    this.#history = new FrameHistory(Math.ceil((options.preRollMs + CONFIRMATION_SLACK_MS) / FRAME_MS), {
      quietFrames: Math.ceil((options.preRollMs + QUIET_MARGIN_MS) / FRAME_MS),
      loudPeak: db === undefined ? 0 : Math.floor(32768 * 10 ** (db / 20) * 0.99),
      holdFrames: Math.ceil(CONFIRMATION_SLACK_MS / FRAME_MS),
    })
  }

  async listen (options: ListenOptions, signal: AbortSignal): Promise<Heard> {
    const stt = this.#ctx.stt
    if (stt === undefined) throw new PhoneAgentError('CONFIG_INVALID', 'listening needs a speech-to-text provider (speech.stt)')
    const session = await this.#start()
    const carried = this.#carried
    this.#carried = undefined
    // Methods, not named arrow functions (lib/media/stream/call-pacer.ts says why): a quiet call
    // listens for most of its life.
    const self = this
    const deps: HearDeps = {
      stt,
      sampleRate: session.rate,
      newVad () { return self.#newVad(session, { endSilenceMs: self.#pauseMs() }) },
      ring () { return self.#onset() },
      subscribe (consumer) { self.#consumer = consumer; return () => { if (self.#consumer === consumer) self.#stopConsumer() } },
      endpointing: this.#opts.endpointing,
      preRollMs: this.#opts.preRollMs,
      log: this.#ctx.log,
      signal: this.#ctx.signal,
      failure () { return session.failure },
    }
    return await hear(deps, options, carried, signal)
  }

  async speak (sentences: AsyncIterable<string>, options: SpeakOptions, signal: AbortSignal): Promise<SpokenResult> {
    const ctx = this.#ctx
    const session = await this.#start()
    const barge = new AbortController()
    let confirmed: ConfirmedBargeIn | undefined
    let playing = -1
    let heard = 0
    const watcher = this.#opts.bargeIn.enabled
      ? new BargeInWatcher({
        endpoint: session.endpoint,
        newVad: () => this.#newVad(session, { minSpeechMs: this.#opts.bargeIn.pauseAfterMs, endSilenceMs: this.#pauseMs() }),
        ring: () => this.#onset(),
        stt: ctx.stt,
        sampleRate: session.rate,
        language: options.language,
        config: this.#opts.bargeIn,
        preRollMs: this.#opts.preRollMs,
        log: ctx.log,
        signal: AbortSignal.any([ctx.signal, signal]),
      })
      : undefined
    if (watcher !== undefined) {
      this.#consumer = (frame) => { watcher.push(frame) }
      void watcher.confirmed.then((c) => {
        confirmed = c
        barge.abort(new PhoneAgentError('BARGE_IN', 'the caller spoke over the agent'))
      })
    }
    try {
      return await speakSentences(sentences, {
        ...options,
        speaker: ctx.speaker,
        voice: options.voice ?? ctx.voice,
        ttsFirstAudioMs: this.#opts.ttsFirstAudioMs ?? 4000,
        onPlayStart: (i) => { playing = i; options.onPlayStart?.(i) },
        onPlayed: (i) => { heard = i + 1; options.onPlayed?.(i) },
        // Each sentence streams: it plays from its first chunk, and the next one is synthesised
        // while this one plays (render-ahead).
        prepare: async (text, sig) => ({
          prepared: await (this.#takeAhead(text) ?? new StreamedSentence(ctx.speaker, text, { rate: session.rate, voice: options.voice ?? ctx.voice, language: options.language, signal: sig }).started()),
          // Streamed synthesis does not say whether it was a cache hit: a reply's sentences
          // rarely are, and fixed phrases are pre-rendered apart.
          billed: true,
        }),
        play: async (index, sentence, sig) => {
          await sentence.play(session, sig, { starved: () => { options.onStarved?.(index) }, sound: () => { options.onSound?.(index) }, firstFrame: () => { options.onFirstFrame?.(index) } })
        },
        // The parents as they are: the pipeline's own link follows them (no AbortSignal.any per reply).
      }, [ctx.signal, signal, barge.signal])
    } catch (err) {
      if (confirmed === undefined || signal.aborted || ctx.signal.aborted) throw err
      // The caller took the turn: keep what interrupted for the next listen.
      this.#carried = confirmed.carried
      const cut = confirmed.cut[0]
      ctx.log.info({ sentence: playing }, 'caller barged in')
      return {
        sentences: playing + 1,
        heard,
        ttsCharacters: 0,
        bargeIn: {
          at: confirmed.at,
          sentence: playing,
          heardMs: cut?.sentMs ?? 0,
          heardFraction: cut === undefined || cut.totalMs === 0 ? 0 : cut.sentMs / cut.totalMs,
        },
      }
    } finally {
      this.#stopConsumer()
      // Speech the reply ended on before it was judged is the caller's next turn.
      if (confirmed === undefined) this.#carried ??= watcher?.takePending()
      watcher?.dispose()
      // A pause left over (the reply ended while the caller's overlap was judged) must not mute the next one.
      if (session.endpoint.paused) session.endpoint.resume()
    }
  }

  prepareAhead (text: string, options: { language: string, voice?: string | undefined }, signal: AbortSignal): void {
    const ctx = this.#ctx
    const started = this.#start().then(async (session) => await new StreamedSentence(ctx.speaker, text, { rate: session.rate, voice: options.voice ?? ctx.voice, language: options.language, signal }).started())
    started.catch(() => {})
    this.#ahead.set(text, started)
    signal.addEventListener('abort', () => { if (this.#ahead.get(text) === started) this.#ahead.delete(text) }, { once: true })
  }

  #takeAhead (text: string): Promise<StreamedSentence> | undefined {
    const ahead = this.#ahead.get(text)
    this.#ahead.delete(text)
    return ahead
  }

  /**
   * A detector for the listen or the barge-in watcher: from its first frame on it may confirm an
   * onset up to the history's capacity later, so the history keeps that much again at a loud frame.
   */
  #newVad (session: StreamSession, overrides: { endSilenceMs: number, minSpeechMs?: number }): VoiceDetector {
    this.#history.expect()
    return session.newVad(overrides)
  }

  /**
   * The detector confirmed an onset: the frames before now, for its pre-roll. Neither the listen
   * nor the watcher asks again with that detector (what follows reaches them frame by frame), so
   * the history goes back to the pre-roll (FrameHistory.settle) until a new detector starts.
   */
  #onset (): InboundFrame[] {
    const frames = this.#history.frames()
    this.#history.settle()
    return frames
  }

  /** The listen or the reply stops taking frames: no detector of theirs will ask for the history. */
  #stopConsumer (): void {
    this.#consumer = undefined
    this.#history.settle()
  }

  /** The VAD's pause that ends (or may end) the caller's turn. */
  #pauseMs (): number {
    return this.#opts.endpointing.adaptive ? this.#opts.endpointing.minSilenceMs : this.#opts.endSilenceMs
  }

  /** Start the stream (answering first) and route its frames through the ring buffer. */
  async #start (): Promise<StreamSession> {
    if (this.#session !== undefined && !this.#session.endpoint.closed) return this.#session
    // A stream whose endpoint closed is replaced by a fresh one.
    this.#unsubscribe?.()
    this.#session = undefined
    this.#history.clear()
    await answer(this.#ctx)
    const session = await this.#ctx.stream()
    if (this.#session !== undefined) return this.#session
    this.#session = session
    // Our own output echoing back on the caller's line must not sound like the caller: frames
    // the session's echo guard explains entirely by what we sent are silence to the VAD; the
    // recogniser and the pre-roll keep the audio as it came.
    const stopFrames = session.endpoint.onFrame((received) => {
      const frame = session.echoOnly(received) ? withVadSamples(received, silentSamples(received.samples.length)) : received
      this.#history.push(received)
      this.#consumer?.(frame)
    })
    this.#unsubscribe = stopFrames
    this.#ctx.signal.addEventListener('abort', () => { this.#unsubscribe?.() }, { once: true })
    return session
  }
}
