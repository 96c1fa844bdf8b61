/**
 * The decimating filter's inner loop (resample.ts decimate()) in WebAssembly SIMD: four pairs
 * of taps a step in 128-bit lanes instead of one in JavaScript. Resampling a TTS reply from 24
 * to 8 kHz was the largest piece of an AI turn's CPU (issue 18, bench/turn-cpu.ts); this is
 * about four times cheaper than the JavaScript loop.
 *
 * The module is small enough to write out byte by byte (no toolchain in the build). Its one
 * function, in the text format:
 *
 *   (func (export "dec") (param $x i32) (param $count i32) (param $step i32) (param $out i32)
 *         (param $taps i32) (param $groups i32) (param $h0 f32)
 *     loop over $count outputs, $x the byte address of each output's centre sample:
 *       acc = 0 (f32x4)
 *       for each group g of four taps (pairs k = 4g + 1 .. 4g + 4):
 *         right = i32x4 of x[at + k .. at + k + 3]          (v128.load16x4_s)
 *         left  = i32x4 of x[at - k .. at - k - 3]          (v128.load16x4_s, lanes reversed)
 *         acc  += f32x4(right + left) * taps[g]             (the sums are exact in i32)
 *       s = h0 * x[at] + ((acc0 + acc1) + (acc2 + acc3))
 *       out = clamp(nearest(s), -32768, 32767) as i16; $x += $step; $out += 2
 *
 * Single precision is ample for 16-bit audio: a pair's sum is exact in f32, and the rounding of
 * ~50 products leaves the result within about 0.02 of a step of the double-precision sum.
 * Where WebAssembly SIMD is missing (a CPU without SSE4.1), `simdKernel()` is undefined and
 * the JavaScript loop runs; one process always uses one of the two, so the streaming and the
 * whole-buffer resamplers stay equal sample for sample.
 */

const LOCAL_GET = 0x20
const LOCAL_SET = 0x21
const LOCAL_TEE = 0x22
const SIMD = 0xfd
/** Parameters and locals of `dec`, by index. */
const X = 0; const COUNT = 1; const STEP = 2; const OUT = 3; const TAPS = 4; const GROUPS = 5; const H0 = 6
const O = 7; const G = 8; const L = 9; const R = 10; const T = 11; const V = 12; const ACC = 13

const get = (i: number): number[] => [LOCAL_GET, i]
const set = (i: number): number[] => [LOCAL_SET, i]
const addConst = (i: number, n: number, op = 0x6a): number[] => [...get(i), 0x41, n, op, ...set(i)]

const BODY = [
  3, 6, 0x7f, 1, 0x7b, 1, 0x7d, // locals: 6 x i32 (o, g, l, r, t, v), 1 x v128 (acc), 1 x f32
  0x02, 0x40, // block
  ...get(COUNT), 0x45, 0x0d, 0, // br_if count == 0
  0x03, 0x40, // loop (outputs)
  SIMD, 0x0c, ...new Array<number>(16).fill(0), ...set(ACC),
  ...get(X), 0x41, 2, 0x6a, ...set(R),
  ...get(X), 0x41, 8, 0x6b, ...set(L),
  ...get(TAPS), ...set(T),
  ...get(GROUPS), ...set(G),
  0x03, 0x40, // loop (groups)
  ...get(ACC),
  ...get(R), SIMD, 0x03, 0, 0, // v128.load16x4_s
  ...get(L), SIMD, 0x03, 0, 0,
  ...get(ACC), SIMD, 0x0d, 12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3, // i8x16.shuffle: i32 lanes reversed
  SIMD, 0xae, 0x01, // i32x4.add
  SIMD, 0xfa, 0x01, // f32x4.convert_i32x4_s
  ...get(T), SIMD, 0x00, 0, 0, // v128.load
  SIMD, 0xe6, 0x01, // f32x4.mul
  SIMD, 0xe4, 0x01, // f32x4.add
  ...set(ACC),
  ...addConst(R, 8),
  ...addConst(L, 8, 0x6b),
  ...addConst(T, 16),
  ...get(G), 0x41, 1, 0x6b, LOCAL_TEE, G, 0x0d, 0, // br_if --g != 0
  0x0b, // end (groups)
  ...get(H0), ...get(X), 0x2e, 1, 0, 0xb2, 0x94, // h0 * f32(i32.load16_s x)
  ...get(ACC), SIMD, 0x1f, 0, ...get(ACC), SIMD, 0x1f, 1, 0x92,
  ...get(ACC), SIMD, 0x1f, 2, ...get(ACC), SIMD, 0x1f, 3, 0x92,
  0x92, 0x92, // (lane0 + lane1) + (lane2 + lane3), then + the centre
  0x90, 0xfc, 0x00, ...set(V), // f32.nearest, i32.trunc_sat_f32_s
  0x41, 0xff, 0xff, 0x01, ...get(V), ...get(V), 0x41, 0xff, 0xff, 0x01, 0x4a, 0x1b, ...set(V), // min(v, 32767)
  0x41, 0x80, 0x80, 0x7e, ...get(V), ...get(V), 0x41, 0x80, 0x80, 0x7e, 0x48, 0x1b, ...set(V), // max(v, -32768)
  ...get(OUT), ...get(V), 0x3b, 1, 0, // i32.store16
  ...addConst(OUT, 2),
  ...get(X), ...get(STEP), 0x6a, ...set(X),
  ...get(O), 0x41, 1, 0x6a, LOCAL_TEE, O, ...get(COUNT), 0x48, 0x0d, 0, // br_if ++o < count
  0x0b, // end (outputs)
  0x0b, // end block
  0x0b, // end function
]

const section = (id: number, bytes: number[]): number[] => [id, ...leb(bytes.length), ...bytes]
function leb (n: number): number[] {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n !== 0) b |= 0x80
    out.push(b)
  } while (n !== 0)
  return out
}
const name = (s: string): number[] => [s.length, ...Buffer.from(s, 'latin1')]

const MODULE = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, [1, 0x60, 7, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7d, 0]),
  ...section(3, [1, 0]),
  ...section(5, [1, 0, 1]),
  ...section(7, [2, ...name('memory'), 2, 0, ...name('dec'), 0, 0]),
  ...section(10, [1, ...leb(BODY.length), ...BODY]),
])

/** Bytes kept for the taps at the start of the memory (1024 taps: any rate pair resample.ts accepts). */
const TAP_BYTES = 4096
/** Input samples per call, so the memory stays about one page whatever the ratio (~1 s at 24 kHz). */
const BATCH_INPUT = 24_576

export interface SimdKernel {
  /**
   * Outputs `count` of `decimate`'s interior (every input of each window inside `x`): the
   * first centred on `x[at]`, each next `down` samples on; `groups` of four f32 taps in `taps`.
   */
  run: (x: Int16Array, at: number, down: number, taps: Float32Array, h0: number, out: Int16Array, outAt: number, count: number) => void
}

/** The few WebAssembly calls used (the project's TypeScript libraries do not declare them). */
interface WasmApi {
  validate: (bytes: Uint8Array) => boolean
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object) => { exports: Record<string, unknown> }
}
interface WasmMemory { readonly buffer: ArrayBuffer, grow: (pages: number) => number }

let kernel: SimdKernel | null | undefined

/** The kernel, or undefined where WebAssembly SIMD is not available. */
export function simdKernel (): SimdKernel | undefined {
  if (kernel === undefined) kernel = instantiate()
  return kernel ?? undefined
}

/** Tests and benches: the JavaScript loop instead (false), or the kernel again (true). Never while a stream is open. */
export function useSimd (on: boolean): void {
  kernel = on ? undefined : null
}

function instantiate (): SimdKernel | null {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly
  try {
    if (wasm === undefined || !wasm.validate(MODULE)) return null
    const instance = new wasm.Instance(new wasm.Module(MODULE))
    const memory = instance.exports.memory as WasmMemory
    const dec = instance.exports.dec as (x: number, count: number, step: number, out: number, taps: number, groups: number, h0: number) => void
    return {
      run (x, at, down, taps, h0, out, outAt, count) {
        const reach = taps.length
        const batch = Math.max(1, Math.floor(BATCH_INPUT / down))
        for (let done = 0; done < count; done += batch) {
          const n = Math.min(batch, count - done)
          const first = at + done * down
          // The inputs the batch reads: `reach` either side of its first and last centres.
          const from = first - reach
          const to = first + (n - 1) * down + reach + 1
          const inBytes = TAP_BYTES
          const outBytes = inBytes + 2 * (to - from)
          const need = outBytes + 2 * n
          if (memory.buffer.byteLength < need) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536))
          const buffer = memory.buffer
          new Float32Array(buffer, 0, reach).set(taps)
          // Only the inputs `x` has: the zero taps past the filter's length may read stale memory beyond, times zero.
          const lo = Math.max(0, from)
          new Int16Array(buffer, inBytes, to - from).set(x.subarray(lo, Math.min(x.length, to)), lo - from)
          dec(inBytes + 2 * (first - from), n, 2 * down, outBytes, 0, reach / 4, h0)
          out.set(new Int16Array(buffer, outBytes, n), outAt + done)
        }
      },
    }
  } catch {
    return null
  }
}
