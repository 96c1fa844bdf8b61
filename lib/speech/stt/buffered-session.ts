import { abortReason } from '../../errors.ts'
import { AsyncQueue } from '../../providers/async-queue.ts'
import type { PcmChunk } from '../types.ts'
import { PcmAccumulator } from '../../media/pcm-accumulator.ts'
import type { SttOptions, SttResult, SttSession, SttStreamOptions, Transcript } from './types.ts'

/** Whisper-style APIs take up to 25 MB per file; two minutes of 16 kHz audio is ~4 MB. */
const MAX_SECONDS = 120

/**
 * A live session for providers that only transcribe whole utterances: frames are buffered and
 * transcribed once at `end()`, yielding one final result (none for silence or empty text).
 * Frames are copied into one buffer as they come: kept as given (a view per 20 ms frame), each
 * lived as long as the utterance and was promoted to the old generation (pcm-accumulator.ts).
 */
export function bufferedSession (transcribe: (audio: PcmChunk, options: SttOptions) => Promise<Transcript>, options: SttStreamOptions): SttSession {
  const audio = new PcmAccumulator()
  const maxBytes = MAX_SECONDS * options.sampleRate * 2
  let ended = false
  const onAbort = (): void => { results.fail(abortReason(options.signal as AbortSignal)) }
  const results = new AsyncQueue<SttResult>(() => { options.signal?.removeEventListener('abort', onAbort) })
  if (options.signal?.aborted === true) onAbort()
  else options.signal?.addEventListener('abort', onAbort, { once: true })

  return {
    write (frame: Buffer): void {
      if (ended || results.closed) return
      // Past the cap the utterance is not speech we can use anyway; keep the start.
      if (audio.length + frame.length > maxBytes) return
      audio.append(frame)
    },
    end (): void {
      if (ended) return
      ended = true
      if (results.closed) return
      if (audio.length < 2) {
        options.signal?.removeEventListener('abort', onAbort)
        results.end()
        return
      }
      transcribe({ pcm: audio.view(), sampleRate: options.sampleRate }, options).then(t => {
        if (t.text.trim() !== '') results.push({ text: t.text, isFinal: true, confidence: t.confidence })
        results.end()
      }, (err: unknown) => { results.fail(err) }).finally(() => {
        options.signal?.removeEventListener('abort', onAbort)
      })
    },
    results,
  }
}
