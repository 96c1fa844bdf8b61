import type { TextToSpeechClient } from '@google-cloud/text-to-speech'
import type { Logger } from 'pino'
import { pcmFromVendorWav } from '../../providers/audio.ts'
import { badResponse, type ErrorContext } from '../../providers/errors.ts'
import { cancellable, type CancellableCall } from '../../providers/google-client.ts'
import type { ProviderQueue } from '../../providers/queue.ts'
import { withRetry, type RetryPolicy } from '../../providers/retry.ts'
import type { UsageMeter } from '../../providers/usage.ts'
import type { PcmChunk, TtsProvider, TtsRequest } from '../types.ts'

/** What FreeSWITCH plays on a narrowband call: asking for it directly skips a resample. */
const SAMPLE_RATE = 8000

export interface GoogleTtsOptions {
  readonly client: TextToSpeechClient
  readonly name: string
  /** Default voice name (`it-IT-Wavenet-A`); Google picks one for the language when absent. */
  readonly voice?: string | undefined
  readonly language: string
  readonly speakingRate?: number | undefined
  readonly queue: ProviderQueue
  readonly retry: RetryPolicy
  readonly timeoutMs: number
  readonly log?: Logger | undefined
  readonly random?: () => number
}

/** Google Cloud Text-to-Speech v1 SynthesizeSpeech, LINEAR16 at 8 kHz. */
export class GoogleTts implements TtsProvider {
  readonly name: string
  readonly #o: GoogleTtsOptions

  constructor (options: GoogleTtsOptions) {
    this.#o = options
    this.name = options.name
  }

  voiceId (request: TtsRequest): string {
    const voice = request.voice ?? this.#o.voice
    const language = request.language ?? this.#o.language
    const rate = this.#o.speakingRate === undefined ? '' : `.r${this.#o.speakingRate}`
    // Without a voice name Google chooses by language, so the language is what identifies it.
    return `${voice ?? `default-${language}`}${rate}`
  }

  async * synthesize (request: TtsRequest, options: { signal?: AbortSignal, usage?: UsageMeter }): AsyncGenerator<PcmChunk> {
    const o = this.#o
    const ctx: ErrorContext = { provider: o.name, operation: 'synthesize', signal: options.signal }
    const voice = request.voice ?? o.voice
    const body = {
      input: { text: request.text },
      voice: { languageCode: request.language ?? o.language, ...(voice === undefined ? {} : { name: voice }) },
      audioConfig: { audioEncoding: 'LINEAR16', sampleRateHertz: SAMPLE_RATE, ...(o.speakingRate === undefined ? {} : { speakingRate: o.speakingRate }) },
    }
    const [response] = await withRetry(signal => o.queue.run(async () => {
      await o.client.initialize()
      const call = o.client.innerApiCalls.synthesizeSpeech?.(body, { timeout: o.timeoutMs, retry: null }) as CancellableCall<[{ audioContent?: Uint8Array | string | null }]>
      return await cancellable(call, signal)
    }, signal), { provider: o.name, operation: 'synthesize', policy: o.retry, signal: options.signal, timeoutMs: o.timeoutMs, log: o.log, ...(o.random ? { random: o.random } : {}) })
    options.usage?.addTts(o.name, voice, request.text.length)
    const audio = response.audioContent
    const bytes = typeof audio === 'string' ? Buffer.from(audio, 'base64') : Buffer.from(audio ?? new Uint8Array(0))
    if (bytes.length === 0) throw badResponse(ctx, 'no audio in the response')
    // LINEAR16 comes wrapped in a WAV header (cloud_tts.proto, AudioEncoding); parse rather than
    // skip 44 bytes, since the header may carry extra chunks.
    const chunk = bytes.subarray(0, 4).toString('latin1') === 'RIFF'
      ? pcmFromVendorWav(bytes, ctx)
      : { pcm: bytes.subarray(0, bytes.length - (bytes.length % 2)), sampleRate: SAMPLE_RATE }
    if (chunk.pcm.length === 0) throw badResponse(ctx, 'no audio in the response')
    yield chunk
  }
}
