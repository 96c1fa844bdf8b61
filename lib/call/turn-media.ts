/**
 * How a conversational turn hears the caller and speaks to them, whatever carries the audio.
 *
 * The turn loop (verbs/converse.ts, verbs/ask.ts) only talks to this interface. Files mode
 * (turn-media-files.ts: FreeSWITCH `record` + `playback`) is the first implementation; a
 * streaming mode (unicast audio with VAD and barge-in) plugs in behind the same two methods.
 */

export interface ListenOptions {
  /** Give up when the caller has not started speaking after this long. */
  readonly noInputMs: number
  /** Longest utterance. */
  readonly maxSpeechMs: number
  /** BCP-47 tag for the recogniser. */
  readonly language: string
  /** Words and names the recogniser should prefer. */
  readonly hints?: readonly string[] | undefined
  /**
   * The caller stopped speaking (epoch ms of the end of their speech), possibly only for a pause
   * (stream mode decides the end of the turn from the words, after this). From here on the
   * caller is owed audio: the turn's dead-air clock runs while the words are recognised.
   */
  readonly onSpeechEnd?: ((at: number) => void) | undefined
  /** The caller went on after a pause reported by `onSpeechEnd`: they are not waiting for us. */
  readonly onSpeechResumed?: (() => void) | undefined
  /**
   * A short pause whose words are finished (`text`), before the end of the turn is confirmed
   * (stream mode's preemptive replies): the reply may start, unheard, until `listen` returns
   * these words. `onPreemptDropped` says the caller went on: the words are not the turn.
   */
  readonly onPreempt?: ((text: string) => void) | undefined
  readonly onPreemptDropped?: (() => void) | undefined
}

/** The caller said something and it was transcribed. Times are epoch ms. */
export interface Utterance {
  readonly kind: 'speech'
  readonly text: string
  /** 0..1 when the recogniser reports it. */
  readonly confidence: number | undefined
  /** When the caller started speaking (estimated in files mode). */
  readonly startedAt: number
  /** When the caller stopped speaking (estimated in files mode). */
  readonly endedAt: number
  /** When the final transcript was available. */
  readonly transcribedAt: number
  /** Length of the audio sent to the recogniser. */
  readonly audioMs: number
  /** Recognitions finished at a pause and dropped because the caller went on (billed all the same). */
  readonly discardedRecognitions?: number | undefined
  readonly discardedAudioMs?: number | undefined
}

/** The caller said nothing within `noInputMs`. */
export interface NoInput {
  readonly kind: 'no-input'
}

/** Sound was heard but the recogniser found no words in it (noise, a cough, a language it missed). */
export interface NoMatch {
  readonly kind: 'no-match'
  readonly startedAt: number
  readonly endedAt: number
}

export type Heard = Utterance | NoInput | NoMatch

export interface SpeakOptions {
  readonly language: string
  readonly voice?: string | undefined
  /** How many sentences may be synthesised ahead of the one playing (files mode). Default 2. */
  readonly renderAhead?: number | undefined
  /** Sentence `index` (0-based, in the order the iterable yielded them) starts playing. */
  readonly onPlayStart?: ((index: number) => void) | undefined
  /**
   * The first frame of sentence `index` left for the caller: handed to the unicast socket
   * (stream mode, after any wait for the frame clock), or its playback started (files mode).
   */
  readonly onFirstFrame?: ((index: number) => void) | undefined
  /** Sentence `index` finished playing in full: the caller heard it. */
  readonly onPlayed?: ((index: number) => void) | undefined
  /** The first sentence's audio is ready (TTS done or a cache hit). */
  readonly onFirstAudio?: (() => void) | undefined
  /**
   * A sentence was synthesised (not a cache hit): its characters are billed whether or not it
   * is heard in full, so a reply cut by barge-in still counts what it cost.
   */
  readonly onSynthesized?: ((characters: number) => void) | undefined
  /**
   * Resolves when the line is free for the next sentence (a filler still playing): a sentence
   * never starts over, or is queued behind, audio the turn did not ask this speak to play.
   */
  readonly lineFree?: (() => Promise<void>) | undefined
  /**
   * The sentence `index` ran out of audio while playing (its streamed synthesis fell behind or
   * stalled): the caller hears silence until `onSound`. Stream mode only.
   */
  readonly onStarved?: ((index: number) => void) | undefined
  readonly onSound?: ((index: number) => void) | undefined
}

export interface SpokenResult {
  /** Sentences taken from the iterable. */
  readonly sentences: number
  /** Sentences heard in full (a prefix: sentences play in order). */
  readonly heard: number
  /** Characters sent to TTS for sentences that were not already cached. */
  readonly ttsCharacters: number
  /** The caller spoke over the reply and took the turn (stream mode). */
  readonly bargeIn?: BargeIn | undefined
}

/** What the caller heard of a reply they interrupted. */
export interface BargeIn {
  /** When their speech began (epoch ms). */
  readonly at: number
  /** The sentence that was playing (0-based). */
  readonly sentence: number
  /** How much of it was sent before the agent paused, ms and as a share of the sentence. */
  readonly heardMs: number
  readonly heardFraction: number
}

export interface TurnMedia {
  /**
   * Wait for the caller to speak and transcribe what they said. Rejects with the signal's reason
   * when it aborts, and with a PhoneAgentError when the recogniser fails.
   */
  listen (options: ListenOptions, signal: AbortSignal): Promise<Heard>
  /**
   * Speak sentences in order as they arrive, each as soon as its audio is ready. Resolves when
   * the iterable ended and everything was played; rejects with the signal's reason on abort (the
   * iterable is closed) or with TTS_FAILED / MEDIA_INVALID when a sentence cannot be spoken.
   */
  speak (sentences: AsyncIterable<string>, options: SpeakOptions, signal: AbortSignal): Promise<SpokenResult>
  /**
   * Start synthesising a sentence before it is spoken (a preemptive reply's first sentence); a
   * later `speak` of the same text plays it from there. Aborting `signal` drops it. Optional: a
   * media without it synthesises when it speaks.
   */
  prepareAhead? (text: string, options: { language: string, voice?: string | undefined }, signal: AbortSignal): void
}
