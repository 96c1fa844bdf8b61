import { abortReason } from '../../errors.ts'
import { AsyncQueue } from '../../providers/async-queue.ts'
import type { PcmChunk } from '../types.ts'
import type { SttOptions, SttResult, SttSession, SttStreamOptions, Transcript } from './types.ts'

/** Whisper-style APIs take up to 25 MB per file; two minutes of 16 kHz audio is ~4 MB. */
const MAX_SECONDS = 120
/** Separate pieces held before they are joined into one, so that frames written one by one never pile up as objects. */
const MAX_PIECES = 64

/**
 * A live session for providers that only transcribe whole utterances: frames are held and
 * transcribed once at `end()`, yielding one final result (none for silence or empty text).
 */
export function bufferedSession (transcribe: (audio: PcmChunk, options: SttOptions) => Promise<Transcript>, options: SttStreamOptions): SttSession {
  const maxBytes = MAX_SECONDS * options.sampleRate * 2
  // Given the utterance as its owner holds it, nothing is kept here: it is read once, at the end.
  const utterance = options.utterance
  const audio = utterance === undefined ? new HeldAudio() : undefined
  let ended = false
  const onAbort = (): void => { results.fail(abortReason(options.signal as AbortSignal)) }
  const results = new AsyncQueue<SttResult>(() => { options.signal?.removeEventListener('abort', onAbort) })
  if (options.signal?.aborted === true) onAbort()
  else options.signal?.addEventListener('abort', onAbort, { once: true })

  return {
    readsUtterance: utterance !== undefined,
    write (frame: Buffer): void {
      if (ended || results.closed || audio === undefined) return
      // Past the cap the utterance is not speech we can use anyway; keep the start.
      if (audio.length + frame.length > maxBytes) return
      audio.add(frame)
    },
    end (): void {
      if (ended) return
      ended = true
      if (results.closed) return
      const pcm = utterance !== undefined ? utterance.pcm(maxBytes) : (audio as HeldAudio).whole()
      if (pcm.length < 2) {
        options.signal?.removeEventListener('abort', onAbort)
        results.end()
        return
      }
      transcribe({ pcm, sampleRate: options.sampleRate }, options).then(t => {
        if (t.text.trim() !== '') results.push({ text: t.text, isFinal: true, confidence: t.confidence })
        results.end()
      }, (err: unknown) => { results.fail(err) }).finally(() => {
        options.signal?.removeEventListener('abort', onAbort)
      })
    },
    results,
  }
}

/**
 * The frames written, held as the caller's own bytes (SttSession.write: never written again),
 * not copied. A frame that follows the last one in the same memory (the utterance's frames,
 * copied one after another into a block of lib/media/pcm-accumulator.ts) widens it, so an
 * utterance is a piece per block. Copied, every talking call held its utterance twice while the
 * caller spoke, there and here: about 13 KB per call at 100 AI calls (docs/benchmarks.md,
 * "Memory per call (tenth session, helper 10b)"). Kept one view per 20 ms frame, as before the
 * copy, each frame outlived two scavenges and was promoted (pcm-accumulator.ts): separate
 * frames are joined once MAX_PIECES of them are held.
 */
class HeldAudio {
  #pieces: Buffer[] = []
  length = 0

  add (frame: Buffer): void {
    const pieces = this.#pieces
    const last = pieces[pieces.length - 1]
    if (last !== undefined && last.buffer === frame.buffer && last.byteOffset + last.length === frame.byteOffset) {
      pieces[pieces.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + frame.length)
    } else {
      if (pieces.length >= MAX_PIECES) this.#pieces = [Buffer.concat(pieces)]
      this.#pieces.push(frame)
    }
    this.length += frame.length
  }

  /** Everything held, in one buffer: the piece itself when there is one, else a copy joining them. */
  whole (): Buffer {
    return this.#pieces.length === 1 ? this.#pieces[0] as Buffer : Buffer.concat(this.#pieces, this.length)
  }
}
