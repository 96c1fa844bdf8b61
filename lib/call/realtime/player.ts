import { StreamingResampler } from '../../media/resample-stream.ts'
import type { MediaEndpoint, Playout, PlayoutResult } from '../../media/stream/index.ts'

/**
 * The vendor's speech on its way to the caller: resampled once (24 kHz -> the channel's rate)
 * as it arrives and queued on the unicast endpoint, whose pacer sends it as 20 ms frames like
 * every other prompt. Audio arrives faster than real time, so most of a reply sits in the
 * queue; `cut()` drops it (the next frame sent is silence) and says how much of the item the
 * caller heard, which is what the vendor is told to keep.
 */

export interface PlayedItem {
  readonly item: string
  /** Audio of the item handed to FreeSWITCH before the cut. */
  readonly playedMs: number
  /** Audio of the item received so far. */
  readonly totalMs: number
}

export class RealtimePlayer {
  readonly #endpoint: MediaEndpoint
  readonly #fromRate: number
  #resampler: StreamingResampler
  #item: string | undefined
  #ids = new Set<number>()
  #queuedMs = 0
  #last: Playout | undefined

  constructor (endpoint: MediaEndpoint, fromRate: number) {
    this.#endpoint = endpoint
    this.#fromRate = fromRate
    this.#resampler = new StreamingResampler(fromRate, endpoint.rate)
  }

  /** The item being played (or last played). */
  get item (): string | undefined { return this.#item }

  /** Whether vendor audio is still queued for the caller. */
  get speaking (): boolean { return this.#last !== undefined && !this.#endpoint.idle }

  /**
   * Queue a chunk of `item`. Returns, for the item's first chunk, when its first frame should
   * go out (epoch ms, estimated from what is queued ahead of it).
   */
  play (pcm: Int16Array, item: string): number | undefined {
    let firstFrameAt: number | undefined
    if (item !== this.#item) {
      this.#enqueue(this.#resampler.flush())
      this.#resampler = new StreamingResampler(this.#fromRate, this.#endpoint.rate)
      this.#item = item
      this.#ids = new Set()
      this.#queuedMs = 0
      firstFrameAt = Date.now() + this.#endpoint.queuedMs
    }
    this.#enqueue(this.#resampler.push(pcm))
    return firstFrameAt
  }

  /** Stop at once (barge-in): what was queued is dropped; returns what was heard of the item. */
  cut (): PlayedItem | undefined {
    const item = this.#item
    const dropped = this.#endpoint.clear()
    this.#resampler = new StreamingResampler(this.#fromRate, this.#endpoint.rate)
    this.#last = undefined
    if (item === undefined) return undefined
    let unheard = 0
    for (const r of dropped) if (this.#ids.has(r.id)) unheard += r.totalMs - r.sentMs
    const totalMs = this.#queuedMs
    this.#item = undefined
    return { item, playedMs: Math.max(0, totalMs - unheard), totalMs }
  }

  /** How the current item's audio ends: sent in full, cut, or the endpoint closed. */
  async itemDone (): Promise<PlayoutResult | undefined> {
    return await this.#last?.done
  }

  /** Resolves when everything queued so far has been sent (a transfer waits for the goodbye). */
  async drained (): Promise<void> {
    this.#enqueue(this.#resampler.flush())
    this.#resampler = new StreamingResampler(this.#fromRate, this.#endpoint.rate)
    await this.#last?.done
  }

  #enqueue (samples: Int16Array): void {
    if (samples.length === 0) return
    const playout = this.#endpoint.enqueue(samples)
    this.#ids.add(playout.id)
    this.#queuedMs += playout.totalMs
    this.#last = playout
  }
}
