/**
 * The provider interfaces. Each vendor implements one method and lives in its own file
 * (`lib/speech/tts/<vendor>.ts`, `lib/speech/stt/<vendor>.ts`, `lib/llm/<vendor>.ts`).
 */

import type { PcmChunk } from '../media/pcm.ts'

/** Raw audio as providers yield it; defined with the PCM helpers (media sits below speech). */
export type { PcmChunk }

export interface TtsRequest {
  readonly text: string
  /** Provider-specific voice name; the provider's default when absent. */
  readonly voice?: string | undefined
  /** BCP-47 tag (it-IT, de-DE, en-US). */
  readonly language?: string | undefined
}

export interface TtsProvider {
  /** Short stable name used in cache keys and logs: `offline`, `google`, `openai`. */
  readonly name: string
  /**
   * The voice that will actually be used for this request, as a stable string; it is part of
   * the cache key, so two requests that would sound different must never share one.
   */
  voiceId (request: TtsRequest): string
  /** Yields PCM as it is produced (one chunk for batch engines). Rejects with a PhoneAgentError. */
  synthesize (request: TtsRequest, options: { signal?: AbortSignal }): AsyncIterable<PcmChunk>
  /** Open the connections a request will need, sending nothing (see LlmProvider.preconnect). */
  preconnect? (): void
}

/**
 * Text to speech as the verbs need it: a WAV file in the sounds directory (the cache,
 * lib/speech/tts-cache.ts). Speech owns the interface; calls take it.
 */
export interface Speaker {
  render (text: string, options: { voice?: string | undefined, language?: string | undefined, signal?: AbortSignal | undefined }):
  Promise<{ path: string, durationMs: number, cached: boolean }>
  /** The same speech as s16le chunks as they are synthesised (lib/speech/tts-cache.ts `stream`; play them with lib/speech/stream-pcm.ts). */
  stream? (text: string, options: { voice?: string | undefined, language?: string | undefined, signal?: AbortSignal | undefined, rate?: number | undefined }): AsyncIterable<PcmChunk>
  /** The provider's preconnect (see LlmProvider.preconnect). */
  preconnect? (): void
}
