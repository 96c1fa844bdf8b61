import type { UsageMeter } from '../../providers/usage.ts'
import type { PcmChunk } from '../types.ts'

/** Speech-to-text: a finished utterance, or a live session fed frame by frame. */

export interface Transcript {
  readonly text: string
  /** 0..1 when the provider reports it. */
  readonly confidence?: number | undefined
  /** The language the provider heard or was asked for. */
  readonly language?: string | undefined
  /** Length of the audio that was transcribed. */
  readonly durationMs: number
}

export interface SttOptions {
  readonly signal?: AbortSignal | undefined
  /** BCP-47 (it-IT); the provider's configured language when absent. */
  readonly language?: string | undefined
  /** Words and names the recogniser should prefer (Google phrase hints; a prompt for Whisper). */
  readonly hints?: readonly string[] | undefined
  readonly usage?: UsageMeter | undefined
}

export interface SttStreamOptions extends SttOptions {
  /** Of the frames that will be written: 16-bit mono PCM. */
  readonly sampleRate: number
  /**
   * The utterance's audio as the caller of `stream()` holds it. A session that transcribes whole
   * utterances reads it at `end()` instead of keeping the frames written, and says so with
   * `readsUtterance`: the caller then need not write at all, and may hold the audio in any form
   * (lib/media/held-pcm.ts keeps a G.711 line's at a byte per sample).
   */
  readonly utterance?: HeldUtterance | undefined
}

export interface HeldUtterance {
  /** The first `maxBytes` of the utterance so far, 16-bit mono PCM: a buffer never written again. */
  pcm (maxBytes: number): Buffer
}

export interface SttResult {
  readonly text: string
  /** Final results do not change any more; interim ones are replaced by the next result. */
  readonly isFinal: boolean
  readonly confidence?: number | undefined
  /** Google's estimate (0..1) that an interim result will not change. */
  readonly stability?: number | undefined
}

export interface SttSession {
  /**
   * One frame of 16-bit mono PCM at the session's sample rate. Ignored after `end()`. The
   * session may keep `frame` as it is (a failover replays it, a whole-utterance session sends it
   * at the end): the caller never writes to it again.
   */
  write (frame: Buffer): void
  /** The session reads `SttStreamOptions.utterance` at `end()`: frames written are ignored. */
  readonly readsUtterance?: boolean
  /** No more audio: the provider finishes and `results` ends after the last final result. */
  end (): void
  /** Rejects with a PhoneAgentError (the caller's abort reason when the signal aborts). */
  readonly results: AsyncIterable<SttResult>
}

export interface SttProvider {
  readonly name: string
  transcribe (audio: PcmChunk, options: SttOptions): Promise<Transcript>
  stream (options: SttStreamOptions): SttSession
  /** Its sessions read `SttStreamOptions.utterance` at `end()` when given one (SttSession.readsUtterance). */
  readonly readsUtterance?: boolean
  /** Open the connections a request will need, sending nothing (see LlmProvider.preconnect). */
  preconnect? (): void
}
