import type { TextToSpeechClient } from '@google-cloud/text-to-speech'
import type { Logger } from 'pino'
import { AsyncQueue } from '../../providers/async-queue.ts'
import { pcmFromVendorWav } from '../../providers/audio.ts'
import { badResponse, toProviderError, type ErrorContext } from '../../providers/errors.ts'
import { cancellable, preconnectGoogle, type CancellableCall } from '../../providers/google-client.ts'
import type { ProviderQueue } from '../../providers/queue.ts'
import { createDeadline, withRetry, type Deadline, type RetryPolicy } from '../../providers/retry.ts'
import type { UsageMeter } from '../../providers/usage.ts'
import type { PcmChunk, TtsProvider, TtsRequest } from '../types.ts'

/** What FreeSWITCH plays on a narrowband call: asking for it directly skips a resample. */
const SAMPLE_RATE = 8000
/**
 * Voices that synthesise over StreamingSynthesize, where audio arrives while the rest of the
 * sentence is still being made. Google documents streaming synthesis for Chirp 3: HD voices
 * (`en-US-Chirp3-HD-Charon`); other voices keep the unary call.
 */
const STREAMING_VOICE = /-Chirp3-HD-/i
/**
 * Asked for explicitly: the voices' native rate, and the rate cloud_tts.proto documents for
 * StreamingSynthesizeResponse (headerless LINEAR16). We convert to the line's rate as it arrives.
 */
const STREAM_SAMPLE_RATE = 24000

/** True when `voice` is synthesised with StreamingSynthesize. */
export function streamsVoice (voice: string | undefined): boolean {
  return voice !== undefined && STREAMING_VOICE.test(voice)
}

interface OpenStream {
  readonly first: IteratorResult<Buffer>
  next (): Promise<IteratorResult<Buffer>>
  /** Cancels the call unless it ended, and gives the queue slot back. */
  close (): void
}

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

/**
 * Google Cloud Text-to-Speech v1: SynthesizeSpeech (LINEAR16 at 8 kHz, the whole sentence in
 * one response) or, for Chirp 3 HD voices, StreamingSynthesize (PCM at 24 kHz, chunk by chunk).
 */
export class GoogleTts implements TtsProvider {
  readonly name: string
  readonly #o: GoogleTtsOptions

  constructor (options: GoogleTtsOptions) {
    this.#o = options
    this.name = options.name
  }

  /** The gRPC channel connected ahead of the first call (no call is made). */
  preconnect (): void {
    preconnectGoogle(this.#o.client)
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
    if (streamsVoice(voice)) {
      yield * this.#streaming(request, voice as string, options)
      return
    }
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

  /**
   * StreamingSynthesize: a config message, the text, half-close, then audio messages until the
   * server ends the call. Retried until the first audio arrives; after that a failure is final
   * (the caller may already be playing what came). The queue slot is held to the end.
   */
  async * #streaming (request: TtsRequest, voice: string, options: { signal?: AbortSignal, usage?: UsageMeter }): AsyncGenerator<PcmChunk> {
    const o = this.#o
    const deadline = createDeadline(options.signal, o.timeoutMs)
    const ctx: ErrorContext = { provider: o.name, operation: 'synthesize', signal: options.signal, deadline }
    let open: OpenStream | undefined
    try {
      open = await withRetry(signal => this.#open(request, voice, signal, deadline, ctx), {
        provider: o.name, operation: 'synthesize', policy: o.retry, signal: options.signal, timeoutMs: o.timeoutMs, deadline, log: o.log, ...(o.random ? { random: o.random } : {}),
      })
      options.usage?.addTts(o.name, voice, request.text.length)
      let produced = 0
      // Messages need not end on a sample boundary; an odd trailing byte waits for its partner.
      let carry: Buffer = Buffer.alloc(0)
      for (let r = open.first; r.done !== true; r = await open.next()) {
        const data: Buffer = carry.length > 0 ? Buffer.concat([carry, r.value]) : r.value
        const even = data.length - (data.length % 2)
        carry = data.subarray(even)
        if (even > 0) {
          produced += even
          yield { pcm: data.subarray(0, even), sampleRate: STREAM_SAMPLE_RATE }
        }
      }
      if (produced === 0) throw badResponse(ctx, 'no audio in the response')
    } finally {
      open?.close()
      deadline.dispose()
    }
  }

  async #open (request: TtsRequest, voice: string, signal: AbortSignal, deadline: Deadline, ctx: ErrorContext): Promise<OpenStream> {
    const o = this.#o
    const release = await o.queue.acquire(signal)
    const audio = new AsyncQueue<Buffer>()
    let stream: ReturnType<TextToSpeechClient['streamingSynthesize']> | undefined
    let ended = false
    let closed = false
    const onAbort = (): void => { audio.fail(toProviderError(signal.reason, ctx)); stream?.cancel() }
    const close = (): void => {
      if (closed) return
      closed = true
      signal.removeEventListener('abort', onAbort)
      stream?.removeAllListeners('data')
      if (!ended) stream?.cancel()
      release()
    }
    try {
      await o.client.initialize()
      if (signal.aborted) throw signal.reason
      signal.addEventListener('abort', onAbort, { once: true })
      const s = o.client.streamingSynthesize({ timeout: Math.max(1, deadline.remainingMs()), retry: null })
      stream = s
      s.on('data', (response: { audioContent?: Uint8Array | string | null }) => {
        const a = response.audioContent
        const bytes = typeof a === 'string' ? Buffer.from(a, 'base64') : Buffer.from(a ?? new Uint8Array(0))
        if (bytes.length > 0) audio.push(bytes)
      })
      s.on('error', (err: unknown) => { ended = true; audio.fail(toProviderError(err, ctx)) })
      s.on('end', () => { ended = true; audio.end() })
      // The first message carries only the config, every later one only input (StreamingSynthesizeRequest oneof).
      s.write({
        streamingConfig: {
          voice: { languageCode: request.language ?? o.language, name: voice },
          streamingAudioConfig: { audioEncoding: 'PCM', sampleRateHertz: STREAM_SAMPLE_RATE, ...(o.speakingRate === undefined ? {} : { speakingRate: o.speakingRate }) },
        },
      })
      s.write({ input: { text: request.text } })
      s.end()
      const it = audio[Symbol.asyncIterator]()
      const first = await it.next()
      return { first, next: async () => await it.next(), close }
    } catch (err) {
      close()
      throw err
    }
  }
}
