import type { OpenAI } from 'openai'
import type { Logger } from 'pino'
import { pcmFromVendorWav } from '../../providers/audio.ts'
import { badResponse, toProviderError, type ErrorContext } from '../../providers/errors.ts'
import type { ProviderQueue } from '../../providers/queue.ts'
import { createDeadline, withRetry, type RetryPolicy } from '../../providers/retry.ts'
import type { UsageMeter } from '../../providers/usage.ts'
import type { PcmChunk, TtsProvider, TtsRequest } from '../types.ts'

export interface OpenAiTtsOptions {
  readonly client: OpenAI
  readonly name: string
  readonly model: string
  readonly voice: string
  /** `pcm`: raw s16le mono at `sampleRate` (OpenAI: 24000). `wav`: the header says. */
  readonly format: 'pcm' | 'wav'
  readonly sampleRate: number
  readonly queue: ProviderQueue
  readonly retry: RetryPolicy
  readonly timeoutMs: number
  readonly log?: Logger | undefined
  readonly random?: () => number
}

/**
 * `/audio/speech` on any OpenAI-compatible server. PCM is streamed through as it arrives; the
 * cache resamples to 8 kHz. Language is not a parameter there: the model speaks the text's own.
 */
export class OpenAiTts implements TtsProvider {
  readonly name: string
  readonly #o: OpenAiTtsOptions

  constructor (options: OpenAiTtsOptions) {
    this.#o = options
    this.name = options.name
  }

  voiceId (request: TtsRequest): string {
    return `${this.#o.model}.${request.voice ?? this.#o.voice}`
  }

  async * synthesize (request: TtsRequest, options: { signal?: AbortSignal, usage?: UsageMeter }): AsyncGenerator<PcmChunk> {
    const o = this.#o
    const deadline = createDeadline(options.signal, o.timeoutMs)
    const ctx: ErrorContext = { provider: o.name, operation: 'synthesize', signal: options.signal, deadline: deadline.timer }
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
    let release: (() => void) | undefined
    try {
      // Retried up to the response headers; once audio flows a failure is final.
      const started = await withRetry(async signal => {
        const slot = await o.queue.acquire(signal)
        try {
          const response = await o.client.audio.speech.create({
            model: o.model,
            voice: request.voice ?? o.voice,
            input: request.text,
            response_format: o.format,
          }, { signal, timeout: Math.max(1, deadline.remainingMs()) })
          return { response, slot }
        } catch (err) {
          slot()
          throw err
        }
      }, { provider: o.name, operation: 'synthesize', policy: o.retry, signal: options.signal, timeoutMs: o.timeoutMs, deadline, log: o.log, ...(o.random ? { random: o.random } : {}) })
      release = started.slot
      const body = started.response.body
      if (body === null) throw badResponse(ctx, 'empty body')
      // Raw PCM has no header to check: an error page sent with 200 would play as noise.
      const type = started.response.headers.get('content-type') ?? ''
      if (NOT_AUDIO.test(type)) throw badResponse(ctx, `not audio (${type.slice(0, 60)})`)
      reader = body.getReader()
      options.usage?.addTts(o.name, o.model, request.text.length)

      let produced = 0
      if (o.format === 'wav') {
        const parts: Buffer[] = []
        for (let r = await read(reader, ctx); !r.done; r = await read(reader, ctx)) parts.push(Buffer.from(r.value))
        const chunk = pcmFromVendorWav(Buffer.concat(parts), ctx)
        produced = chunk.pcm.length
        if (produced > 0) yield chunk
      } else {
        // HTTP chunks split samples anywhere; an odd trailing byte waits for its partner.
        let carry: Buffer = Buffer.alloc(0)
        for (let r = await read(reader, ctx); !r.done; r = await read(reader, ctx)) {
          const data: Buffer = carry.length > 0 ? Buffer.concat([carry, r.value]) : Buffer.from(r.value)
          const even = data.length - (data.length % 2)
          carry = data.subarray(even)
          if (even > 0) {
            produced += even
            yield { pcm: data.subarray(0, even), sampleRate: o.sampleRate }
          }
        }
      }
      if (produced === 0) throw badResponse(ctx, 'no audio in the response')
    } finally {
      await reader?.cancel().catch(() => {})
      release?.()
      deadline.dispose()
    }
  }
}

/** Content types no speech endpoint sends for audio; anything else (or none) is trusted. */
const NOT_AUDIO = /^\s*(text\/|application\/(json|xml|xhtml|problem))/i

async function read (reader: ReadableStreamDefaultReader<Uint8Array>, ctx: ErrorContext): ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']> {
  try {
    return await reader.read()
  } catch (err) {
    throw toProviderError(err, ctx)
  }
}
