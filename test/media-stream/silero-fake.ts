import { STATE_SIZE, type SileroModel } from '../../lib/media/vad/silero-model.ts'

export interface FakeCall {
  readonly batch: number
  readonly width: number
  readonly rate: number
  readonly input: Float32Array
  readonly state: Float32Array
}

/**
 * A stand-in for the Silero model that records every call. Its state is a counter per row:
 * element 0 of layer 0 counts the windows that row's call has had, element 0 of layer 1 holds
 * the first sample of the call's last window, so a test can tell whether the runner kept each
 * call's state apart across ticks.
 */
export class FakeSileroModel implements SileroModel {
  readonly calls: FakeCall[] = []
  closed = false
  failNext = 0
  #prob: (window: Float32Array) => number

  /** By default a window is speech when its RMS is above -40 dBFS. */
  constructor (prob: (window: Float32Array) => number = (w) => rmsDb(w) > -40 ? 0.9 : 0.05) {
    this.#prob = prob
  }

  async run (input: Float32Array, batch: number, width: number, state: Float32Array, rate: number): Promise<{ probs: Float32Array, state: Float32Array }> {
    this.calls.push({ batch, width, rate, input: input.slice(), state: state.slice() })
    await new Promise((resolve) => setImmediate(resolve))
    if (this.failNext > 0) {
      this.failNext--
      throw new Error('fake inference failure')
    }
    if (input.length !== batch * width || state.length !== 2 * batch * STATE_SIZE) throw new Error('bad shapes')
    const next = state.slice()
    const probs = new Float32Array(batch)
    for (let i = 0; i < batch; i++) {
      next[i * STATE_SIZE] = (state[i * STATE_SIZE] as number) + 1
      next[batch * STATE_SIZE + i * STATE_SIZE] = input[i * width] as number
      probs[i] = this.#prob(input.subarray(i * width, (i + 1) * width))
    }
    return { probs, state: next }
  }

  async close (): Promise<void> { this.closed = true }
}

export function rmsDb (x: Float32Array): number {
  let ss = 0
  for (const v of x) ss += v * v
  return 10 * Math.log10(ss / Math.max(1, x.length) + 1e-12)
}
