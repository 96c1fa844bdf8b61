import { readFile, unlink } from 'node:fs/promises'
import { PhoneAgentError, abortReason, isPhoneAgentError } from '../errors.ts'
import { bytesFromInt16, toMono } from '../media/pcm.ts'
import { parseWav } from '../media/wav.ts'
import { createDeadline } from '../providers/retry.ts'
import type { VerbContext } from './context.ts'
import type { Heard, ListenOptions, SpeakOptions, SpokenResult, TurnMedia } from './turn-media.ts'
import { playPath } from './verbs/play.ts'
import { record } from './verbs/record.ts'

export interface FilesMediaOptions {
  /** FreeSWITCH silence threshold (average absolute sample value of a 20 ms frame). */
  readonly silenceThreshold?: number
  /** Seconds of silence that end an utterance. */
  readonly silenceSeconds?: number
  /** TTS request to its audio, per sentence. */
  readonly ttsFirstAudioMs?: number
}

/** Frames above the threshold needed to call a recording speech rather than a click. */
const MIN_LOUD_FRAMES = 3
const FRAME_MS = 20

/**
 * Files mode: the caller is heard with FreeSWITCH `record` (silence detection ends it) and the
 * WAV is sent to `stt.transcribe`; replies are synthesised to files and played with `playback`.
 *
 * FreeSWITCH's silence detection counts from the start of the recording
 * (switch_ivr_record_file: silence_hits), so a caller who has not started talking ends it after
 * `silenceSeconds`. `listen` therefore records in short windows until one holds speech or
 * `noInputMs` has passed; a word spoken in the few milliseconds between two windows is lost,
 * which streaming mode does not suffer from.
 */
export class FilesTurnMedia implements TurnMedia {
  readonly #ctx: VerbContext
  readonly #threshold: number
  readonly #silenceSeconds: number
  readonly #ttsMs: number

  constructor (ctx: VerbContext, options: FilesMediaOptions = {}) {
    this.#ctx = ctx
    this.#threshold = options.silenceThreshold ?? 200
    this.#silenceSeconds = options.silenceSeconds ?? 1
    this.#ttsMs = options.ttsFirstAudioMs ?? 4000
  }

  async listen (options: ListenOptions, signal: AbortSignal): Promise<Heard> {
    const ctx = this.#ctx
    const stt = ctx.stt
    if (stt === undefined) throw new PhoneAgentError('CONFIG_INVALID', 'listening needs a speech-to-text provider (speech.stt)')
    const began = Date.now()
    const maxSeconds = Math.max(1, Math.ceil(options.maxSpeechMs / 1000))
    for (;;) {
      if (signal.aborted) throw abortReason(signal)
      if (Date.now() - began >= options.noInputMs) return { kind: 'no-input' }
      const windowAt = Date.now()
      const rec = await record(ctx, { maxSeconds, silence: { threshold: this.#threshold, seconds: this.#silenceSeconds }, signal })
      const stoppedAt = Date.now()
      if (rec?.hungUp === true || !ctx.channel.isUp) {
        if (rec) await unlink(rec.path).catch(() => {})
        throw abortReason(ctx.signal.aborted ? ctx.signal : signal)
      }
      if (rec === undefined) continue
      let audio
      try {
        audio = toMono(parseWav(await readFile(rec.path)))
      } finally {
        // The transcript is what the call keeps; the utterance audio is not a message.
        await unlink(rec.path).catch(() => {})
      }
      const speech = findSpeech(audio.samples, audio.sampleRate, this.#threshold)
      if (speech === undefined) continue
      const startedAt = windowAt + speech.startMs
      const endedAt = Math.min(stoppedAt, windowAt + speech.endMs)
      const transcript = await stt.transcribe(
        { pcm: bytesFromInt16(audio.samples), sampleRate: audio.sampleRate },
        { signal, language: options.language, hints: options.hints },
      )
      const transcribedAt = Date.now()
      if (transcript.text.trim() === '') return { kind: 'no-match', startedAt, endedAt }
      return {
        kind: 'speech',
        text: transcript.text.trim(),
        confidence: transcript.confidence,
        startedAt,
        endedAt,
        transcribedAt,
        audioMs: transcript.durationMs,
      }
    }
  }

  async speak (sentences: AsyncIterable<string>, options: SpeakOptions, signal: AbortSignal): Promise<SpokenResult> {
    const ctx = this.#ctx
    const ahead = Math.max(1, Math.floor(options.renderAhead ?? 2))
    // Our own stop lane: a failed render or playback ends the producer too.
    const stop = new AbortController()
    const sig = AbortSignal.any([ctx.signal, signal, stop.signal])
    const queue: Array<Promise<{ path: string }>> = []
    const changed = new Notifier()
    const iterator = sentences[Symbol.asyncIterator]()
    let taken = 0
    let heard = 0
    let ttsCharacters = 0
    let ended = false

    const render = async (text: string, index: number): Promise<{ path: string }> => {
      const deadline = createDeadline(sig, this.#ttsMs)
      try {
        const r = await ctx.speaker.render(text, { voice: options.voice ?? ctx.voice, language: options.language, signal: deadline.signal })
        if (!r.cached) { ttsCharacters += text.length; options.onSynthesized?.(text.length) }
        if (index === 0) options.onFirstAudio?.()
        return r
      } catch (err) {
        if (sig.aborted) throw abortReason(sig)
        if (deadline.timer.aborted) throw new PhoneAgentError('TTS_FAILED', 'speech synthesis missed its deadline', { cause: err })
        if (isPhoneAgentError(err)) throw err
        throw new PhoneAgentError('TTS_FAILED', 'speech synthesis failed', { cause: err })
      } finally {
        deadline.dispose()
      }
    }

    const producer = (async () => {
      try {
        for (;;) {
          while (queue.length >= ahead) await changed.wait(sig)
          const next = await raceAbort(iterator.next(), sig)
          if (next.done === true) break
          const p = render(next.value, taken++)
          // Awaited in order by the consumer; a rejection nobody reaches must not go unhandled.
          p.catch(() => {})
          queue.push(p)
          changed.notify()
        }
      } finally {
        ended = true
        changed.notify()
      }
    })()
    producer.catch(() => {})

    try {
      for (let index = 0; ; index++) {
        while (queue.length === 0 && !ended) await changed.wait(sig)
        const item = queue.shift()
        if (item === undefined) break
        changed.notify()
        const rendered = await item
        if (sig.aborted) throw abortReason(sig)
        options.onPlayStart?.(index)
        await playPath(ctx, rendered.path, { signal: sig })
        heard++
        options.onPlayed?.(index)
      }
      // The producer's own failure (the LLM broke mid-reply) surfaces here.
      await producer
      return { sentences: taken, heard, ttsCharacters }
    } catch (err) {
      stop.abort(err)
      // An async generator suspended in an await only returns once it reaches its next yield:
      // do not wait for it. The caller's turn signal aborts what it is waiting on.
      void iterator.return?.()?.catch(() => {})
      throw sig.aborted && !stop.signal.aborted ? abortReason(sig) : err
    } finally {
      changed.dispose()
    }
  }
}

/** First and last loud frame of a recording, in ms from its start; undefined when it is all silence. */
export function findSpeech (samples: Int16Array, sampleRate: number, threshold: number): { startMs: number, endMs: number } | undefined {
  const frame = Math.max(1, Math.round(sampleRate * FRAME_MS / 1000))
  let first = -1
  let last = -1
  let loud = 0
  for (let i = 0, f = 0; i + frame <= samples.length; i += frame, f++) {
    let energy = 0
    for (let j = i; j < i + frame; j++) energy += Math.abs(samples[j] ?? 0)
    if (energy / frame < threshold) continue
    loud++
    if (first < 0) first = f
    last = f
  }
  if (loud < MIN_LOUD_FRAMES) return undefined
  return { startMs: first * FRAME_MS, endMs: (last + 1) * FRAME_MS }
}

/** Resolve with `p`, or reject with the signal's reason as soon as it aborts. */
export async function raceAbort<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) throw abortReason(signal)
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => {
      onAbort = () => { reject(abortReason(signal)) }
      signal.addEventListener('abort', onAbort, { once: true })
    })])
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort)
  }
}

/** "Something changed": waiters wake on the next notify() or when their signal aborts. */
class Notifier {
  #waiters = new Set<() => void>()

  notify (): void {
    const waiters = [...this.#waiters]
    this.#waiters.clear()
    for (const w of waiters) w()
  }

  async wait (signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw abortReason(signal)
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { this.#waiters.delete(wake); reject(abortReason(signal)) }
      const wake = (): void => { signal.removeEventListener('abort', onAbort); resolve() }
      this.#waiters.add(wake)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  dispose (): void {
    this.notify()
  }
}
