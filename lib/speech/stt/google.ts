import type { SpeechClient } from '@google-cloud/speech'
import type { Logger } from 'pino'
import { abortReason } from '../../errors.ts'
import { AsyncQueue } from '../../providers/async-queue.ts'
import { pcmDurationMs } from '../../providers/audio.ts'
import { toProviderError, type ErrorContext } from '../../providers/errors.ts'
import { cancellable, preconnectGoogle, type CancellableCall } from '../../providers/google-client.ts'
import type { ProviderQueue } from '../../providers/queue.ts'
import { withRetry, type RetryPolicy } from '../../providers/retry.ts'
import type { PcmChunk } from '../types.ts'
import type { SttOptions, SttProvider, SttResult, SttSession, SttStreamOptions, Transcript } from './types.ts'

/** Google ends a StreamingRecognize call after about five minutes of audio (quotas page). */
const STREAM_MAX_MS = 300_000

export interface GoogleSttOptions {
  readonly client: SpeechClient
  readonly name: string
  readonly model: string
  readonly useEnhanced: boolean
  readonly punctuation: boolean
  readonly language: string
  readonly hints?: readonly string[] | undefined
  readonly queue: ProviderQueue
  readonly retry: RetryPolicy
  readonly timeoutMs: number
  readonly log?: Logger | undefined
  readonly random?: () => number
}

interface Alternative { transcript?: string | null, confidence?: number | null }
interface RecognitionResult { alternatives?: Alternative[] | null, isFinal?: boolean | null, stability?: number | null }

/** Google Cloud Speech-to-Text v1 over gRPC: Recognize for utterances, StreamingRecognize live. */
export class GoogleStt implements SttProvider {
  readonly name: string
  readonly #o: GoogleSttOptions

  constructor (options: GoogleSttOptions) {
    this.#o = options
    this.name = options.name
  }

  /** The gRPC channel connected ahead of the first call (no call is made). */
  preconnect (): void {
    preconnectGoogle(this.#o.client)
  }

  #config (sampleRate: number, language: string, hints: readonly string[]): Record<string, unknown> {
    const o = this.#o
    return {
      encoding: 'LINEAR16',
      sampleRateHertz: sampleRate,
      audioChannelCount: 1,
      languageCode: language,
      model: o.model,
      useEnhanced: o.useEnhanced,
      enableAutomaticPunctuation: o.punctuation,
      ...(hints.length === 0 ? {} : { speechContexts: [{ phrases: [...hints] }] }),
    }
  }

  async transcribe (audio: PcmChunk, options: SttOptions): Promise<Transcript> {
    const o = this.#o
    const language = options.language ?? o.language
    const request = { config: this.#config(audio.sampleRate, language, options.hints ?? o.hints ?? []), audio: { content: audio.pcm } }
    const [response] = await withRetry(signal => o.queue.run(async () => {
      await o.client.initialize()
      // innerApiCalls returns gax's cancellable call; the public method wraps it and loses cancel().
      const call = o.client.innerApiCalls.recognize?.(request, { timeout: o.timeoutMs, retry: null }) as CancellableCall<[{ results?: RecognitionResult[] | null }]>
      return await cancellable(call, signal)
    }, signal), { provider: o.name, operation: 'transcribe', policy: o.retry, signal: options.signal, timeoutMs: o.timeoutMs, log: o.log, ...(o.random ? { random: o.random } : {}) })
    const durationMs = pcmDurationMs(audio)
    options.usage?.addStt(o.name, o.model, durationMs / 1000)
    // Each result covers a consecutive stretch of the audio; their best alternatives join up.
    const best = (response.results ?? []).map(r => r.alternatives?.[0]).filter((a): a is Alternative => a !== undefined)
    const text = best.map(a => a.transcript ?? '').join(' ').replace(/\s+/g, ' ').trim()
    const confidence = best.length === 0 ? undefined : Math.min(...best.map(a => a.confidence ?? 0))
    return { text, confidence, language, durationMs }
  }

  /**
   * A live session. It holds a queue slot until it ends (a call's listening phase), and it is
   * not retried: audio already sent cannot be replayed into a new stream in time to matter.
   */
  stream (options: SttStreamOptions): SttSession {
    const o = this.#o
    const language = options.language ?? o.language
    const ctx: ErrorContext = { provider: o.name, operation: 'stream', signal: options.signal }
    const pending: Buffer[] = []
    let bytes = 0
    let ended = false
    let finished = false
    let grpcStream: ReturnType<SpeechClient['_streamingRecognize']> | undefined
    let release: (() => void) | undefined

    const finish = (err?: unknown): void => {
      if (finished) return
      finished = true
      options.signal?.removeEventListener('abort', onAbort)
      grpcStream?.removeAllListeners('data')
      if (err !== undefined) grpcStream?.cancel()
      release?.()
      if (bytes > 0) options.usage?.addStt(o.name, o.model, bytes / 2 / options.sampleRate)
      if (err === undefined) results.end()
      else results.fail(err)
    }
    const onAbort = (): void => { finish(abortReason(options.signal as AbortSignal)) }
    // The consumer stopped reading: cancel the call, nobody wants its results.
    const results = new AsyncQueue<SttResult>(() => { finish(abortReason(AbortSignal.abort())) })

    const start = async (): Promise<void> => {
      const slot = await o.queue.acquire(options.signal)
      if (finished) { slot(); return }
      release = slot
      await o.client.initialize()
      if (finished) return
      const stream = o.client._streamingRecognize({ timeout: STREAM_MAX_MS, retry: null })
      grpcStream = stream
      stream.on('data', (response: { results?: RecognitionResult[] | null, error?: { code?: number, message?: string } | null }) => {
        if (response.error && response.error.code) {
          finish(toProviderError({ code: response.error.code, details: response.error.message }, ctx))
          return
        }
        const result = toSttResult(response.results ?? [])
        if (result !== undefined) results.push(result)
      })
      stream.on('error', (err: unknown) => { finish(toProviderError(err, ctx)) })
      stream.on('end', () => { finish() })
      // The first message carries only the config (StreamingRecognizeRequest oneof).
      stream.write({ streamingConfig: { config: this.#config(options.sampleRate, language, options.hints ?? o.hints ?? []), interimResults: true } })
      for (const frame of pending.splice(0)) stream.write({ audioContent: frame })
      if (ended) stream.end()
    }

    if (options.signal?.aborted === true) onAbort()
    else {
      options.signal?.addEventListener('abort', onAbort, { once: true })
      start().catch((err: unknown) => { finish(toProviderError(err, ctx)) })
    }

    return {
      write (frame: Buffer): void {
        if (ended || finished) return
        bytes += frame.length
        if (grpcStream === undefined) pending.push(frame)
        else grpcStream.write({ audioContent: frame })
      },
      end (): void {
        if (ended) return
        ended = true
        grpcStream?.end()
      },
      results,
    }
  }
}

function toSttResult (results: readonly RecognitionResult[]): SttResult | undefined {
  if (results.length === 0) return undefined
  const finals = results.filter(r => r.isFinal === true)
  // Interim responses list a stable part then a volatile part; together they are the hypothesis.
  const chosen = finals.length > 0 ? finals : results
  const text = chosen.map(r => r.alternatives?.[0]?.transcript ?? '').join('').trim()
  if (text === '') return undefined
  const first = chosen[0]
  return {
    text,
    isFinal: finals.length > 0,
    ...(first?.alternatives?.[0]?.confidence ? { confidence: first.alternatives[0].confidence } : {}),
    ...(finals.length === 0 && first?.stability ? { stability: first.stability } : {}),
  }
}
