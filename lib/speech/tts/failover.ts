import type { ProviderChain } from '../../providers/failover.ts'
import type { PcmChunk, TtsProvider, TtsRequest } from '../types.ts'

/**
 * The configured voices in order (`speech.tts.providers`), as one TtsProvider. A sentence goes
 * to the first voice whose breaker is closed and moves on while no audio has come; a failure
 * after audio started is final (a sentence that changes voice half-way would be heard).
 *
 * A request's `voice` (a route's) names a voice of the first provider; the others would refuse
 * it, so they speak with their own configured voice.
 */
export class FailoverTts implements TtsProvider {
  readonly chain: ProviderChain<TtsProvider>

  constructor (chain: ProviderChain<TtsProvider>) {
    this.chain = chain
  }

  /**
   * The voice a request would go to now. The cache key is made of `name` and `voiceId`, so while
   * the first voice cools down what the next one says is cached under the next one's key.
   */
  get name (): string { return this.chain.current.name }

  /** The provider a request would go to now; the others are dialled only if it fails. */
  preconnect (): void {
    this.chain.current.preconnect?.()
  }

  voiceId (request: TtsRequest): string {
    const index = this.chain.currentIndex
    return this.chain.current.voiceId(forMember(request, index))
  }

  synthesize (request: TtsRequest, options: { signal?: AbortSignal }): AsyncIterable<PcmChunk> {
    return this.chain.stream((tts, index) => tts.synthesize(forMember(request, index), options), options.signal)
  }
}

function forMember (request: TtsRequest, index: number): TtsRequest {
  return index === 0 || request.voice === undefined ? request : { ...request, voice: undefined }
}
