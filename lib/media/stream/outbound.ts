import { encodeFrame, samplesPerFrame, silenceFrame, type StreamRate } from './frame.ts'
import { LITTLE_ENDIAN, type SendSlot } from './send-ring.ts'
import { resampledLength, resampleSliced } from '../resample-stream.ts'

/**
 * The agent's outgoing audio as an ordered queue of items (a greeting, a TTS sentence, a
 * chunk of one), cut into 20 ms frames as the pacer asks for them. Frames run across item
 * boundaries so a sentence streamed in chunks plays without a gap at every chunk; only when
 * the queue runs dry is a frame padded with silence. No I/O here: the endpoint sends what
 * `nextFrame` returns.
 */

export type PlayoutStatus = 'sent' | 'cleared' | 'closed'

/** Frames `unsend` can put back: a socket holds a reply's frames at most a frame or two ahead. */
const RECENT = 4

export interface PlayoutResult {
  readonly id: number
  /** `sent`: every sample went out; `cleared`: barge-in dropped the rest; `closed`: the endpoint closed. */
  readonly status: PlayoutStatus
  readonly sentSamples: number
  readonly totalSamples: number
  /** Audio of this item handed to FreeSWITCH: what the caller hears of it. */
  readonly sentMs: number
  readonly totalMs: number
  /** Monotonic time (the scheduler clock) the frame carrying its last sent sample went out; undefined when none did. */
  readonly lastSentAt: number | undefined
}

export interface Playout {
  readonly id: number
  readonly totalMs: number
  /** Settles once, never rejects: when its last frame is sent, or on clear() / close(). */
  readonly done: Promise<PlayoutResult>
}

interface Item {
  readonly id: number
  readonly samples: Int16Array
  /** Samples of `samples` ready to send: less than its length while a conversion fills it. */
  available: number
  offset: number
  lastSentAt: number | undefined
  /** Told once, when the frame carrying the item's first sample is handed to the socket. */
  onFirstFrame: ((sentAt: number) => void) | undefined
  readonly resolve: (result: PlayoutResult) => void
  readonly playout: Playout
}

export class OutboundQueue {
  readonly rate: StreamRate
  readonly #frameSamples: number
  readonly #items: Item[] = []
  /** A frame's samples before encoding, on a big-endian host only (made on first use there). */
  #scratch: Int16Array | undefined
  #nextId = 1
  #closed = false
  #paused = false
  #queuedSamples = 0
  /** First-frame callbacks of items that started in the frame being built (told by `sent`). */
  readonly #started: Array<(sentAt: number) => void> = []
  /**
   * The last RECENT frames, newest at #recentAt: the item each drew its samples from and how many
   * (0: silence; -1: from two items, or its item finished), so `unsend` can put them back.
   */
  readonly #recentItems: Array<Item | undefined> = new Array(RECENT).fill(undefined)
  readonly #recentTaken = new Int32Array(RECENT)
  #recentAt = 0

  constructor (rate: StreamRate) {
    this.rate = rate
    this.#frameSamples = samplesPerFrame(rate)
  }

  /** Samples waiting to be sent, as milliseconds of audio. */
  get queuedMs (): number { return this.#queuedSamples * 1000 / this.rate }

  get idle (): boolean { return this.#items.length === 0 || this.#paused }

  /** Nothing queued at all (paused or not). */
  get empty (): boolean { return this.#items.length === 0 }

  get paused (): boolean { return this.#paused }

  /**
   * Hold the queue where it is: silence goes out and nothing is consumed, so resume() carries on
   * from the very sample it stopped at (a backchannel or a cough that only paused the agent).
   */
  pause (): void { this.#paused = true }

  resume (): void { this.#paused = false }

  /**
   * Queue mono samples at the queue's rate. The array is kept, not copied: do not reuse it.
   * After close() the playout settles at once as `closed` (audio racing a hangup is not an error).
   */
  enqueue (samples: Int16Array, onFirstFrame?: (sentAt: number) => void): Playout {
    return this.enqueueGrowing(samples, samples.length, onFirstFrame).playout
  }

  /**
   * Queue an array of which only the first `available` samples are ready (a conversion fills the
   * rest between tasks): `grow(n)` says n are now ready. Frames never run past the ready part; if
   * the conversion fell behind the pacer (it runs far faster than real time) the frame is padded
   * with silence and the item waits. `active` is false once the item settled (sent, cleared,
   * closed): the conversion can stop.
   */
  enqueueGrowing (samples: Int16Array, available: number, onFirstFrame?: (sentAt: number) => void): { playout: Playout, grow: (available: number) => void, readonly active: boolean } {
    const id = this.#nextId++
    let resolve!: (result: PlayoutResult) => void
    let settled = false
    const done = new Promise<PlayoutResult>((r) => { resolve = (result) => { settled = true; r(result) } })
    const playout: Playout = { id, totalMs: samples.length * 1000 / this.rate, done }
    const item: Item = { id, samples, available: Math.min(available, samples.length), offset: 0, lastSentAt: undefined, onFirstFrame, resolve, playout }
    const handle = {
      playout,
      grow: (n: number): void => { item.available = Math.min(samples.length, Math.max(item.available, n)) },
      get active (): boolean { return !settled },
    }
    if (this.#closed || samples.length === 0) {
      resolve(this.#result(item, this.#closed ? 'closed' : 'sent'))
      return handle
    }
    this.#items.push(item)
    this.#queuedSamples += samples.length
    return handle
  }

  /**
   * Queue audio at another rate, converted ~100 ms at a time between tasks (a long sentence at
   * 24 kHz is never converted in one piece on the loop that paces every call). The first slice
   * is ready when this returns; a cleared or closed item stops its conversion.
   */
  enqueueConverted (samples: Int16Array, fromRate: number, onFirstFrame: ((sentAt: number) => void) | undefined, onError: (err: unknown) => void): Playout {
    const out = new Int16Array(resampledLength(samples.length, fromRate, this.rate))
    const handle = this.enqueueGrowing(out, 0, onFirstFrame)
    void resampleSliced(samples, fromRate, this.rate, {
      out,
      onSlice: (ready) => {
        handle.grow(ready)
        return handle.active
      },
    }).catch(onError)
    return handle.playout
  }

  /**
   * The next frame to send at `now`: queued audio, padded with silence when the queue runs
   * dry mid-frame, or the shared silence frame when nothing is queued. Items whose last
   * sample is in this frame settle as `sent`.
   */
  nextFrame (now: number): Buffer {
    // A new buffer per frame: dgram keeps a reference until the datagram is written.
    const bytes = Buffer.allocUnsafe(this.#frameSamples * 2)
    return this.nextFrameInto(now, { bytes, samples: LITTLE_ENDIAN ? new Int16Array(bytes.buffer, bytes.byteOffset, this.#frameSamples) : this.#bigEndianScratch() })
  }

  /**
   * `nextFrame` into a send slot the caller owns (no allocation): on a little-endian host the
   * samples are written straight into the datagram's bytes. Returns the buffer to send: the
   * slot's, or the shared silence frame.
   */
  nextFrameInto (now: number, slot: SendSlot): Buffer {
    if (this.#items.length === 0 || this.#paused) {
      this.#remember(undefined, 0)
      return silenceFrame(this.rate)
    }
    const frame = LITTLE_ENDIAN ? slot.samples : this.#bigEndianScratch()
    let filled = 0
    const first = this.#items[0]
    let rewindable = true
    while (filled < frame.length) {
      const item = this.#items[0]
      if (item === undefined) break
      const take = Math.min(frame.length - filled, item.available - item.offset)
      // The conversion has not caught up: pad this frame, the item goes on next frame.
      if (take <= 0) break
      if (item !== first) rewindable = false
      const src = item.samples
      const from = item.offset
      for (let i = 0; i < take; i++) frame[filled + i] = src[from + i] as number
      if (item.offset === 0 && item.onFirstFrame !== undefined) this.#started.push(item.onFirstFrame)
      filled += take
      item.offset += take
      item.lastSentAt = now
      this.#queuedSamples -= take
      if (item.offset === item.samples.length) {
        this.#items.shift()
        item.resolve(this.#result(item, 'sent'))
        rewindable = false
        // Every frame remembered so far is now behind this one, which cannot be put back: no
        // `unsend` reaches them, so they need not keep the finished reply's audio alive (an idle
        // call sends a frame a second: four seconds of a sentence's samples per call otherwise).
        this.#recentItems.fill(undefined)
      }
    }
    this.#remember(first, rewindable ? filled : -1)
    if (filled < frame.length) frame.fill(0, filled)
    return LITTLE_ENDIAN ? slot.bytes : encodeFrame(frame, slot.bytes)
  }

  /**
   * The frame `nextFrame` returned was handed to the socket at `sentAt` (the pacer's clock):
   * items whose first sample it carried are told now, not when they were queued, so a
   * reply's "first frame" mark is when the audio left, after any wait for the frame clock.
   */
  sent (sentAt: number): void {
    if (this.#started.length === 0) return
    for (const tell of this.#started.splice(0)) tell(sentAt)
  }

  /**
   * The last `frames` frames were never sent after all (the socket held them and they were taken
   * back: a pause or a barge-in), so their audio goes back at the head of the queue and plays on
   * resume. Possible while they all came from the item still playing, after its first frame;
   * false otherwise (they stay consumed: at most a frame or two of audio skipped).
   */
  unsend (frames: number): boolean {
    if (frames > RECENT) return false
    let item: Item | undefined
    let samples = 0
    for (let k = 0; k < frames; k++) {
      const at = (this.#recentAt - k + RECENT) % RECENT
      const taken = this.#recentTaken[at] as number
      if (taken === 0) continue
      const from = this.#recentItems[at]
      if (taken < 0 || (item !== undefined && from !== item)) return false
      item = from
      samples += taken
    }
    if (item === undefined) return true
    if (item !== this.#items[0] || item.offset - samples <= 0) return false
    item.offset -= samples
    this.#queuedSamples += samples
    this.#recentTaken.fill(-1)
    return true
  }

  /**
   * Drop everything queued (barge-in). The next frame is silence, so the caller stops hearing
   * the agent once FreeSWITCH has played the frames it already holds. Returns what was sent of
   * each dropped item, in queue order, to truncate the transcript to what was heard.
   */
  clear (): PlayoutResult[] {
    return this.#dropAll('cleared')
  }

  /** Settle everything as `closed`; later items settle as `closed` at once. */
  close (): PlayoutResult[] {
    this.#closed = true
    return this.#dropAll('closed')
  }

  #remember (item: Item | undefined, taken: number): void {
    this.#recentAt = (this.#recentAt + 1) % RECENT
    // Only a frame taken from one item still playing (taken > 0) can be put back: only it needs the item.
    this.#recentItems[this.#recentAt] = taken > 0 ? item : undefined
    this.#recentTaken[this.#recentAt] = taken
  }

  #bigEndianScratch (): Int16Array {
    this.#scratch ??= new Int16Array(this.#frameSamples)
    return this.#scratch
  }

  #dropAll (status: PlayoutStatus): PlayoutResult[] {
    this.#paused = false
    this.#recentItems.fill(undefined)
    this.#recentTaken.fill(-1)
    const items = this.#items.splice(0)
    this.#queuedSamples = 0
    const results = items.map((item) => this.#result(item, status))
    for (let i = 0; i < items.length; i++) items[i]?.resolve(results[i] as PlayoutResult)
    return results
  }

  #result (item: Item, status: PlayoutStatus): PlayoutResult {
    return {
      id: item.id,
      status,
      sentSamples: item.offset,
      totalSamples: item.samples.length,
      sentMs: item.offset * 1000 / this.rate,
      totalMs: item.samples.length * 1000 / this.rate,
      lastSentAt: item.lastSentAt,
    }
  }
}

