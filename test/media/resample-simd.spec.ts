import t from 'tap'
import { resample, resampleKernel } from '../../lib/media/resample.ts'
import { StreamingResampler } from '../../lib/media/resample-stream.ts'
import { simdKernel, useSimd } from '../../lib/media/resample-simd.ts'

/** The decimation as a plain double-precision dot product over the whole window (zeros outside). */
function reference (x: Int16Array, from: number, to: number): Int16Array {
  const { fold, down } = resampleKernel(from, to)
  const c = fold.length - 1
  const out = new Int16Array(Math.ceil(x.length / down))
  for (let j = 0; j < out.length; j++) {
    const at = j * down
    let s = (fold[0] as number) * (x[at] as number)
    for (let k = 1; k <= c; k++) s += (fold[k] as number) * ((at - k >= 0 ? x[at - k] as number : 0) + (at + k < x.length ? x[at + k] as number : 0))
    const v = Math.round(s)
    out[j] = v > 32767 ? 32767 : v < -32768 ? -32768 : v
  }
  return out
}

/** Full-scale noise (the filter's output clips now and then) from a fixed seed. */
function noise (n: number, seed: number): Int16Array {
  let a = seed
  return Int16Array.from({ length: n }, () => {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0
    return (a >>> 16) - 32768
  })
}

function streamed (x: Int16Array, from: number, to: number, piece: number): Int16Array {
  const r = new StreamingResampler(from, to)
  const parts: Int16Array[] = []
  for (let at = 0; at < x.length; at += piece) parts.push(r.push(x.subarray(at, at + piece)))
  parts.push(r.flush())
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

const pairs: Array<[number, number]> = [[24000, 8000], [16000, 8000], [48000, 8000], [32000, 8000], [48000, 16000]]
// 50,001 samples: more than one of the kernel's batches (24,576 input samples each).
const lengths = [0, 1, 7, 300, 24000, 50001]

t.test('the SIMD kernel is there on this machine\'s architecture', async (t) => {
  if (process.arch !== 'x64' && process.arch !== 'arm64') { t.pass(`not checked on ${process.arch}`); return }
  t.ok(simdKernel() !== undefined, 'WebAssembly SIMD compiled')
})

for (const simd of [true, false]) {
  t.test(`${simd ? 'SIMD kernel' : 'JavaScript loop'}: within one step of the double-precision sum, the stream equal to the whole`, async (t) => {
    useSimd(simd)
    t.teardown(() => { useSimd(true) })
    for (const [from, to] of pairs) {
      for (const n of lengths) {
        const x = noise(n, from + n)
        const out = resample(x, from, to)
        const ref = reference(x, from, to)
        t.equal(out.length, ref.length)
        let worst = 0
        let off = 0
        for (let i = 0; i < ref.length; i++) {
          const d = Math.abs((out[i] as number) - (ref[i] as number))
          worst = Math.max(worst, d)
          if (d > 0) off++
        }
        if (simd) {
          t.ok(worst <= 1 && off <= ref.length / 20, `${from} -> ${to}, ${n} samples: largest difference ${worst}, ${off} of ${ref.length} off by one`)
        } else {
          t.equal(worst, 0, `${from} -> ${to}, ${n} samples: the same sums`)
        }
        const s = streamed(x, from, to, 997)
        t.ok(s.length === out.length && s.every((v, i) => v === out[i]), `${from} -> ${to}, ${n} samples: streamed in pieces, sample for sample`)
      }
    }
  })
}
