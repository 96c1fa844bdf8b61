/**
 * The caller's audio in 20 ms frames, whatever the call's packet time. FreeSWITCH streams one
 * datagram per packet of the call (switch_ivr.c switch_ivr_park, a read per packet of the read
 * codec: 30 ms at `a=ptime:30`), and everything after the endpoint works in 20 ms frames: the
 * voice detector measures the first 20 ms of a frame and counts each as 20 ms (vad.ts), the
 * turn's history and the echo guard's ratios are sized in frames. So a longer or shorter packet
 * is cut and joined into 20 ms frames here: a 30 ms packet gives one or two, and a frame that
 * spans two packets waits for the second.
 */
export class FrameCutter {
  readonly #frame: number
  /** The start of a frame whose end is in the next packet. */
  #pending: Int16Array | undefined
  #filled = 0

  /** `frameSamples`: samples in 20 ms at the call's rate. */
  constructor (frameSamples: number) {
    this.#frame = frameSamples
  }

  /** The 20 ms frames `samples` completes, in order, to `emit`: views of it where a frame lies whole inside it, else a fresh array. */
  cut (samples: Int16Array, emit: (frame: Int16Array) => void): void {
    const frame = this.#frame
    let at = 0
    if (this.#pending !== undefined) {
      const n = Math.min(frame - this.#filled, samples.length)
      this.#pending.set(samples.subarray(0, n), this.#filled)
      this.#filled += n
      at = n
      if (this.#filled < frame) return
      const whole = this.#pending
      this.#pending = undefined
      this.#filled = 0
      emit(whole)
    }
    for (; samples.length - at >= frame; at += frame) emit(samples.subarray(at, at + frame))
    if (at < samples.length) {
      this.#pending = new Int16Array(frame)
      this.#pending.set(samples.subarray(at))
      this.#filled = samples.length - at
    }
  }
}
