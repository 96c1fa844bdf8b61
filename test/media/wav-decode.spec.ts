import t from 'tap'
import { parseWav, wavHeader } from '../../lib/media/wav.ts'

// parseWav decodes 16-bit data with one byte copy (issue 18). These pin its output to the
// per-sample decoder it replaced, on the shapes where a copy could go wrong: odd sizes, a
// trailing partial frame, several channels, a file that is a view at an odd byte offset.

/** The decoder as it was: one readInt16LE per sample, the trailing partial frame dropped. */
function reference (data: Buffer, channels: number, bits: 8 | 16): number[] {
  const frameBytes = channels * bits / 8
  const count = Math.floor(data.length / frameBytes) * channels
  return Array.from({ length: count }, (_, i) => bits === 16 ? data.readInt16LE(i * 2) : ((data[i] as number) - 128) << 8)
}

function noise (bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes)
  let x = seed
  for (let i = 0; i < bytes; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24 }
  return out
}

/** A WAV whose header declares `declared` data bytes and whose file holds `data`. */
function wav (channels: number, bits: 8 | 16, data: Buffer, declared = data.length): Buffer {
  const header = wavHeader(8000, channels, declared)
  header.writeUInt16LE(channels * bits / 8, 32)
  header.writeUInt16LE(bits, 34)
  return Buffer.concat([header, data])
}

t.test('16-bit and 8-bit, 1 to 3 channels, every data size around a frame boundary', async (t) => {
  let checked = 0
  for (const bits of [8, 16] as const) {
    for (const channels of [1, 2, 3]) {
      for (let bytes = 0; bytes <= 26; bytes++) {
        const data = noise(bytes, bytes * 7 + channels)
        const got = parseWav(wav(channels, bits, data))
        if (JSON.stringify([...got.samples]) !== JSON.stringify(reference(data, channels, bits))) t.fail(`${bits}-bit, ${channels} ch, ${bytes} bytes`)
        checked++
      }
    }
  }
  t.equal(checked, 162, 'every case compared')
})

t.test('a file inside a larger buffer at an odd offset, and a declared size past the end', async (t) => {
  const data = noise(4801, 3)
  const file = wav(1, 16, data, 0xffffffff)
  const big = Buffer.alloc(file.length + 3)
  file.copy(big, 1)
  const view = big.subarray(1, 1 + file.length)
  t.equal(view.byteOffset % 2, 1, 'the view starts at an odd byte')
  const got = parseWav(view)
  t.same([...got.samples], reference(data, 1, 16), 'the same samples; the odd trailing byte dropped')
  t.equal(got.samples.length, 2400)
})

t.test('a declared data size shorter than the file stops there', async (t) => {
  const data = noise(100, 5)
  const got = parseWav(wav(2, 16, data, 41))
  t.same([...got.samples], reference(data.subarray(0, 41), 2, 16))
  t.equal(got.samples.length, 20, 'ten whole stereo frames')
})

t.test('the samples are a copy: changing the file after does not change them', async (t) => {
  const data = noise(64, 9)
  const file = wav(1, 16, data)
  const got = parseWav(file)
  const first = got.samples[0]
  file.writeInt16LE((first as number) ^ 0x7fff, 44)
  t.equal(got.samples[0], first)
})
