/**
 * The two directions of a stream-mode call on one timeline, written out as interleaved stereo
 * (caller left, agent right).
 *
 * The agent's side is the clock: we send one 20 ms frame per tick, silence included, so the
 * count of samples sent is the call's time, except where we send nothing (a quiet call's ticks
 * between keep-alives): there the time each frame was sent places it (agent()). The caller's frames carry their own sample count
 * (`mediaMs`: FreeSWITCH sends a frame per 20 ms, a CNG frame during RTP pauses), so each is
 * placed at "where the agent's clock was when the caller's first frame arrived" plus its own
 * offset: network jitter does not move it. Samples are held back `holdFrames` slots before
 * they are written, so a caller frame that arrives a little late still lands in its slot; one
 * later than that re-anchors the caller's side at the present slot (after what is placed). A
 * caller frame more than the buffer ahead means our side fell behind (a stall, or idle frames
 * the pacer did not send: FreeSWITCH writes nothing in those ticks), so the oldest slots are
 * written out and our side continues after them: the slots it missed are silence, and no
 * caller audio is overwritten. A slot with no audio from one side is silence on that channel.
 */
export class StereoTimeline {
  readonly #hold: number
  readonly #cap: number
  readonly #emit: (stereo: Int16Array) => void
  /** Interleaved samples for positions [#emitted, #emitted + #cap). */
  readonly #buf: Int16Array
  #emitted = 0
  /** Next agent sample position. */
  #right = 0
  /** End of the caller's audio placed so far. */
  #leftEnd = 0
  /** Timeline position of the caller's media sample 0. */
  #anchor: number | undefined
  readonly #rate: number
  /** Our first timed frame: when it was sent (ms) and where it was placed; later ones are placed by time from it. */
  #sentRef: { readonly at: number, readonly pos: number } | undefined

  constructor (rate: number, emit: (stereo: Int16Array) => void, options: { holdFrames?: number, capFrames?: number } = {}) {
    const frame = rate / 50
    this.#hold = frame * (options.holdFrames ?? 3)
    this.#cap = frame * Math.max((options.holdFrames ?? 3) + 2, options.capFrames ?? 50)
    this.#buf = new Int16Array(this.#cap * 2)
    this.#emit = emit
    this.#rate = rate
  }

  /**
   * One frame we sent (silence included), `sentAt` ms after an origin of the sender's (the
   * endpoint's clock) when known. A frame sent more than a frame after our side's clock says
   * follows ticks on which we sent nothing, which FreeSWITCH does not fill (switch_ivr.c
   * unicast_thread_run writes only what arrives): a quiet call sends a keep-alive a second, a
   * late sender leaves a gap. It is placed at its time, the ticks before it silence on our side.
   */
  agent (samples: Int16Array, sentAt?: number): void {
    if (sentAt !== undefined) {
      const ref = this.#sentRef ??= { at: sentAt, pos: this.#right }
      const due = ref.pos + Math.round((sentAt - ref.at) * this.#rate / 1000)
      if (due - this.#right > this.#rate / 50) this.#right = due
    }
    this.#place(this.#right, samples, 1)
    this.#right += samples.length
    if (this.#right - this.#hold > this.#emitted) this.#out(this.#right - this.#hold - this.#emitted)
  }

  /** One frame of the caller's, `mediaSample` samples after the caller's first. */
  caller (samples: Int16Array, mediaSample: number): void {
    let pos = this.#anchor === undefined ? -1 : this.#anchor + mediaSample
    if (pos < this.#emitted) {
      pos = Math.max(this.#right, this.#leftEnd)
      this.#anchor = pos - mediaSample
    }
    this.#place(pos, samples, 0)
    // Far ahead: #place wrote the oldest slots out; our side resumes after them.
    if (this.#right < this.#emitted) this.#right = this.#emitted
    this.#leftEnd = Math.max(this.#leftEnd, pos + samples.length)
  }

  /** Write out everything held (the call is over). */
  finish (): void {
    const end = Math.max(this.#right, this.#leftEnd)
    if (end > this.#emitted) this.#out(end - this.#emitted)
  }

  #place (pos: number, samples: Int16Array, channel: 0 | 1): void {
    // More than the buffer holds ahead (a long stall caught up at once, our frame after a quiet
    // spell): write the oldest out, and silence up to it when it is further ahead than that.
    const over = pos + samples.length - (this.#emitted + this.#cap)
    if (over > 0) this.#out(over)
    const from = Math.max(0, this.#emitted - pos)
    for (let i = from; i < samples.length; i++) {
      const at = pos + i - this.#emitted
      if (at >= this.#cap) break
      this.#buf[at * 2 + channel] = samples[i] as number
    }
  }

  #out (n: number): void {
    const count = Math.min(n, this.#cap)
    this.#emit(this.#buf.slice(0, count * 2))
    this.#buf.copyWithin(0, count * 2)
    this.#buf.fill(0, (this.#cap - count) * 2)
    this.#emitted += count
    if (n > count) {
      // Nothing was placed that far ahead: the rest is silence on both channels.
      this.#emit(new Int16Array((n - count) * 2))
      this.#emitted += n - count
    }
  }
}
