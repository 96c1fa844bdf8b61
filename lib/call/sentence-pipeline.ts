import { PhoneAgentError, abortReason, isPhoneAgentError } from '../errors.ts'
import { AbortLink } from '../providers/abort-link.ts'
import { createDeadline } from '../providers/retry.ts'
import type { Speaker } from './context.ts'
import type { SpeakOptions, SpokenResult } from './turn-media.ts'

/**
 * Sentences to speech, in order: each sentence is synthesised (up to `renderAhead` ahead of the
 * one playing) and handed to `play`, which is what differs between the media (FreeSWITCH
 * `playback` of the file, or the unicast stream). A failed synthesis, a failed playback or the
 * signal ends the whole reply; the producer (usually the LLM's sentence stream) is told to stop.
 */

export interface PipelineOptions<P = { path: string }> extends SpeakOptions {
  readonly speaker: Speaker
  readonly voice: string | undefined
  /** TTS request to its audio, per sentence. */
  readonly ttsFirstAudioMs: number
  /**
   * Start a sentence's audio: by default the rendered file; the stream media starts a streamed
   * synthesis instead and resolves at its first audio. `billed` says whether it cost synthesis.
   */
  readonly prepare?: ((text: string, signal: AbortSignal) => Promise<{ prepared: P, billed: boolean }>) | undefined
  /** Play one prepared sentence; resolves when the caller has heard it. */
  readonly play: (index: number, prepared: P, signal: AbortSignal) => Promise<void>
}

/**
 * `signal`: what ends the reply; several (the call's, the turn's, a barge-in's) are followed as
 * one without a signal made to join them (abort-link.ts says why).
 */
export async function speakSentences<P = { path: string }> (sentences: AsyncIterable<string>, options: PipelineOptions<P>, signal: AbortSignal | readonly AbortSignal[]): Promise<SpokenResult> {
  const ahead = Math.max(1, Math.floor(options.renderAhead ?? 2))
  // Our own stop lane: a failed render or playback ends the producer too. It follows `signal`
  // until the reply is over (every sentence was heard, nothing it started is still running).
  const stop = new AbortLink(Array.isArray(signal) ? signal : [signal as AbortSignal])
  const sig = stop.signal
  const queue: Array<Promise<P>> = []
  const changed = new Notifier()
  const iterator = sentences[Symbol.asyncIterator]()
  let taken = 0
  let heard = 0
  let ttsCharacters = 0
  let ended = false

  const prepare = options.prepare ?? (async (text: string, s: AbortSignal) => {
    const r = await options.speaker.render(text, { voice: options.voice, language: options.language, signal: s })
    return { prepared: r as unknown as P, billed: !r.cached }
  })
  const render = async (text: string, index: number): Promise<P> => {
    // The deadline is for the first audio; a streamed sentence goes on past it, still stopped
    // by `sig` (stopTimer keeps the link: one signal a sentence, not three).
    const deadline = createDeadline(sig, options.ttsFirstAudioMs)
    try {
      const r = await prepare(text, deadline.signal)
      if (r.billed) { ttsCharacters += text.length; options.onSynthesized?.(text.length) }
      if (index === 0) options.onFirstAudio?.()
      return r.prepared
    } catch (err) {
      if (sig.aborted) throw abortReason(sig)
      if (deadline.expired) throw new PhoneAgentError('TTS_FAILED', 'speech synthesis missed its deadline', { cause: err })
      if (isPhoneAgentError(err)) throw err
      throw new PhoneAgentError('TTS_FAILED', 'speech synthesis failed', { cause: err })
    } finally {
      deadline.stopTimer()
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
      if (options.lineFree !== undefined) await raceAbort(options.lineFree(), sig)
      if (sig.aborted) throw abortReason(sig)
      options.onPlayStart?.(index)
      await options.play(index, rendered, sig)
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
    throw err
  } finally {
    changed.dispose()
    // A long-lived parent (the call's signal) must not keep a listener per reply.
    stop.dispose()
  }
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
