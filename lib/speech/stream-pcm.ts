import { readFile } from 'node:fs/promises'
import { abortReason, PhoneAgentError, throwIfAborted } from '../errors.ts'
import { toMono } from '../media/pcm.ts'
import { StreamingResampler } from '../media/resample-stream.ts'
import { parseWav } from '../media/wav.ts'
import { bytesOf, samplesOf } from './pcm-views.ts'

/**
 * One sentence as samples at the stream's rate, as soon as they exist: what the stream media
 * enqueues (lib/media/stream/endpoint.ts `enqueue`) while the rest is still being synthesised.
 *
 *   for await (const samples of streamSentence(speaker, text, { rate: endpoint.rate, signal })) {
 *     playouts.push(endpoint.enqueue(samples))
 *   }
 *
 * Conversion happens here, chunk by chunk as the audio arrives (a StreamingResampler per run
 * of equal-rate chunks), never in the frame pacer's tick and never over the whole sentence:
 * a chunk larger than `sliceMs` is converted a slice at a time, with the event loop free
 * between slices, so the first slice is out before the rest is touched. Audio already at the
 * stream's rate is passed through untouched.
 */

/** What streamSentence needs of a speaker; lib/call/context.ts `Speaker` has this shape. */
export interface PcmSpeaker {
  render (text: string, options: { voice?: string | undefined, language?: string | undefined, signal?: AbortSignal | undefined }): Promise<{ path: string }>
  stream? (text: string, options: { voice?: string | undefined, language?: string | undefined, signal?: AbortSignal | undefined, rate?: number | undefined }): AsyncIterable<{ readonly pcm: Buffer, readonly sampleRate: number }>
}

export interface StreamSentenceOptions {
  /** The stream's rate (the unicast endpoint's, 8000 or 16000): every sample yielded is at it. */
  readonly rate: number
  /** Barge-in, hangup: stops the synthesis (unless another consumer shares it) and the loop. */
  readonly signal?: AbortSignal | undefined
  readonly voice?: string | undefined
  readonly language?: string | undefined
  /** Largest piece of input converted in one go, in ms (default 100). */
  readonly sliceMs?: number | undefined
}

const DEFAULT_SLICE_MS = 100

/**
 * Samples of `text` at `options.rate`, in arrival order; every array is new and the caller's
 * to keep (the outbound queue holds on to what it is given). Uses the speaker's `stream` when
 * it has one, else renders the file and reads it. Errors are PhoneAgentErrors: the signal's
 * reason when it aborts; a provider failure after some audio throws after that audio, so the
 * caller knows exactly what it already queued.
 */
export async function * streamSentence (speaker: PcmSpeaker, text: string, options: StreamSentenceOptions): AsyncGenerator<Int16Array, void, undefined> {
  const { rate, signal } = options
  const sliceMs = options.sliceMs ?? DEFAULT_SLICE_MS
  if (!(sliceMs > 0)) throw new PhoneAgentError('MEDIA_INVALID', 'streamSentence: sliceMs must be positive')
  throwIfAborted(signal)
  const request = { voice: options.voice, language: options.language, signal }
  const source = speaker.stream !== undefined
    ? speaker.stream(text, { ...request, rate })
    : fromFile(speaker, text, request)
  let resampler: StreamingResampler | undefined
  for await (const chunk of source) {
    throwIfAborted(signal)
    if (chunk.pcm.length === 0) continue
    if (resampler !== undefined && resampler.fromRate !== chunk.sampleRate) {
      // A change of rate ends one signal and starts another: the filter must not run across it.
      const tail = resampler.flush()
      resampler = undefined
      if (tail.length > 0) yield tail
    }
    const samples = samplesOf(chunk.pcm)
    if (chunk.sampleRate === rate) {
      yield samples
      continue
    }
    resampler ??= new StreamingResampler(chunk.sampleRate, rate)
    const step = Math.max(1, Math.round(chunk.sampleRate * sliceMs / 1000))
    for (let at = 0; at < samples.length; at += step) {
      if (at > 0) await breather(signal)
      const out = resampler.push(samples.subarray(at, at + step))
      if (out.length > 0) yield out
    }
  }
  throwIfAborted(signal)
  const tail = resampler?.flush()
  if (tail !== undefined && tail.length > 0) yield tail
}

/** For a speaker without `stream`: the rendered file, as one chunk at its own rate. */
async function * fromFile (speaker: PcmSpeaker, text: string, request: { voice?: string | undefined, language?: string | undefined, signal?: AbortSignal | undefined }): AsyncGenerator<{ pcm: Buffer, sampleRate: number }> {
  const { path } = await speaker.render(text, request)
  let wav: Buffer
  try {
    wav = await readFile(path, request.signal === undefined ? {} : { signal: request.signal })
  } catch (cause) {
    if (request.signal?.aborted === true) throw abortReason(request.signal)
    throw new PhoneAgentError('TTS_FAILED', 'cannot read the rendered speech', { cause })
  }
  let audio
  try {
    audio = toMono(parseWav(wav))
  } catch (cause) {
    throw new PhoneAgentError('TTS_FAILED', 'the rendered speech is not a readable WAV', { cause })
  }
  yield { pcm: bytesOf(audio.samples), sampleRate: audio.sampleRate }
}

/** Lets timers and socket events run between slices of one large chunk. */
function breather (signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    setImmediate(() => {
      if (signal?.aborted === true) reject(abortReason(signal))
      else resolve()
    })
  })
}
