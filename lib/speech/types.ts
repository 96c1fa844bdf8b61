/**
 * The provider interfaces. Each vendor implements one method and lives in its own file
 * (`lib/speech/tts/<vendor>.ts`, `lib/speech/stt/<vendor>.ts`, `lib/llm/<vendor>.ts`).
 */

/** Raw audio: signed 16-bit little-endian mono PCM. */
export interface PcmChunk {
  readonly pcm: Buffer
  readonly sampleRate: number
}

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
}
