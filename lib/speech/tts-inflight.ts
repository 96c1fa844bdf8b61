import { abortReason } from '../errors.ts'
import type { PcmChunk } from './types.ts'

/**
 * One synthesis in progress, shared by every render() and stream() of the same cache key.
 *
 * The audio is kept as it arrives, twice: the provider's chunks (what a stream replays, at the
 * provider's rate, for a consumer at any rate) and the same audio at the cache's rate,
 * converted chunk by chunk (what the file will hold, and what a consumer at that rate takes
 * without converting again). A consumer that joins late replays from the start.
 */

export interface CacheHit {
  readonly path: string
  readonly bytes: number
}

export type SynthesisState =
  /** The provider is still producing (or the disk is being checked). */
  | 'running'
  /** All audio is here (or `hit` names the file that has it); the file may still be being written. */
  | 'complete'
  | 'failed'

export class Synthesis<Result> {
  readonly controller = new AbortController()
  /** Provider chunks in arrival order; read-only for consumers. */
  readonly chunks: PcmChunk[] = []
  /** The same audio at the cache's rate; concatenated, it is the file's samples. */
  readonly cacheChunks: Int16Array[] = []
  /** Samples in `cacheChunks`. */
  cacheSamples = 0
  /** Set instead of any chunk when the file was already on disk. */
  hit: CacheHit | undefined
  state: SynthesisState = 'running'
  error: unknown
  /** render() and stream() calls attached; when the last one leaves early, the work stops. */
  waiters = 0
  /** A render() is attached: the file is written whatever the cache's admission. */
  needsFile = false
  /** Settles once the cache file is written (or the synthesis failed). */
  stored!: Promise<Result>
  #wakers: Array<() => void> = []

  push (chunk: PcmChunk | undefined, atCacheRate: Int16Array): void {
    if (this.state !== 'running') return
    if (chunk !== undefined) this.chunks.push(chunk)
    if (atCacheRate.length > 0) {
      this.cacheChunks.push(atCacheRate)
      this.cacheSamples += atCacheRate.length
    }
    this.#wake()
  }

  found (hit: CacheHit): void {
    if (this.state !== 'running') return
    this.hit = hit
    this.state = 'complete'
    this.#wake()
  }

  complete (): void {
    if (this.state !== 'running') return
    this.state = 'complete'
    this.#wake()
  }

  fail (err: unknown): void {
    if (this.state !== 'running') return
    this.state = 'failed'
    this.error = err
    this.#wake()
  }

  /** Resolves at the next change of chunks or state; rejects with the reason when `signal` aborts. */
  changed (signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted === true) { reject(abortReason(signal)); return }
      const onAbort = (): void => {
        const i = this.#wakers.indexOf(wake)
        if (i >= 0) this.#wakers.splice(i, 1)
        reject(abortReason(signal as AbortSignal))
      }
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#wakers.push(wake)
    })
  }

  #wake (): void {
    for (const wake of this.#wakers.splice(0)) wake()
  }
}
