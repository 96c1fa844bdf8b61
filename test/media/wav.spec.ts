import t from 'tap'
import { encodeWav, parseWav, CANONICAL_HEADER_BYTES } from '../../lib/media/wav.ts'
import { isPhoneAgentError } from '../../lib/errors.ts'

/** Build a RIFF file from chunks, as other writers lay them out. */
function riff (chunks: Array<[id: string, body: Buffer, declaredSize?: number]>, riffSize?: number): Buffer {
  const parts: Buffer[] = []
  for (const [id, body, declared] of chunks) {
    const head = Buffer.alloc(8)
    head.write(id, 0, 'latin1')
    head.writeUInt32LE(declared ?? body.length, 4)
    parts.push(head, body)
    if (body.length % 2 === 1 && declared === undefined) parts.push(Buffer.alloc(1))
  }
  const body = Buffer.concat(parts)
  const head = Buffer.alloc(12)
  head.write('RIFF', 0, 'latin1')
  head.writeUInt32LE(riffSize ?? body.length + 4, 4)
  head.write('WAVE', 8, 'latin1')
  return Buffer.concat([head, body])
}

function fmt (channels: number, rate: number, bits: number, tag = 1): Buffer {
  const b = Buffer.alloc(16)
  b.writeUInt16LE(tag, 0)
  b.writeUInt16LE(channels, 2)
  b.writeUInt32LE(rate, 4)
  b.writeUInt32LE(rate * channels * bits / 8, 8)
  b.writeUInt16LE(channels * bits / 8, 12)
  b.writeUInt16LE(bits, 14)
  return b
}

function extensibleFmt (channels: number, rate: number, bits: number, subFormat: number): Buffer {
  const b = Buffer.alloc(40)
  fmt(channels, rate, bits, 0xfffe).copy(b, 0)
  b.writeUInt16LE(22, 16)
  b.writeUInt16LE(bits, 18)
  b.writeUInt32LE(channels === 2 ? 3 : 4, 20)
  b.writeUInt16LE(subFormat, 24)
  Buffer.from('000000001000800000aa00389b71', 'hex').copy(b, 26)
  return b
}

function s16 (...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 2)
  values.forEach((v, i) => b.writeInt16LE(v, i * 2))
  return b
}

t.test('encode then parse round-trips samples, rate and channels', async (t) => {
  const samples = Int16Array.from([0, 1, -1, 32767, -32768, 1234])
  for (const [rate, channels] of [[8000, 1], [16000, 2], [44100, 3]] as const) {
    const wav = encodeWav({ sampleRate: rate, channels, samples: channels === 3 ? samples : samples.subarray(0, 6 - (6 % channels)) })
    t.equal(wav.toString('latin1', 0, 4), 'RIFF')
    t.equal(wav.readUInt32LE(40), wav.length - CANONICAL_HEADER_BYTES, 'data size in the header')
    const back = parseWav(wav)
    t.equal(back.sampleRate, rate)
    t.equal(back.channels, channels)
    t.same([...back.samples], [...samples.subarray(0, back.samples.length)])
  }
  const view = samples.subarray(2, 5)
  t.same(encodeWav({ sampleRate: 8000, channels: 1, samples: view }).subarray(CANONICAL_HEADER_BYTES), s16(...view), 'a view inside a larger buffer: its own samples, little-endian')
})

type Good = [name: string, file: Buffer, expected: { rate: number, channels: number, samples: number[] }]

const good: Good[] = [
  ['16-bit mono', riff([['fmt ', fmt(1, 8000, 16)], ['data', s16(1, -2, 300)]]), { rate: 8000, channels: 1, samples: [1, -2, 300] }],
  ['16-bit stereo', riff([['fmt ', fmt(2, 22050, 16)], ['data', s16(10, 20, 30, 40)]]), { rate: 22050, channels: 2, samples: [10, 20, 30, 40] }],
  ['8-bit unsigned is widened around 128', riff([['fmt ', fmt(1, 11025, 8)], ['data', Buffer.from([128, 255, 0, 129])]]), { rate: 11025, channels: 1, samples: [0, 127 << 8, -32768, 256] }],
  ['LIST chunk before fmt is skipped', riff([['LIST', Buffer.from('INFOISFT\x05\x00\x00\x00Lavf\x00\x00', 'latin1')], ['fmt ', fmt(1, 16000, 16)], ['data', s16(5)]]), { rate: 16000, channels: 1, samples: [5] }],
  ['odd-sized chunk is padded to even', riff([['fmt ', fmt(1, 8000, 16)], ['junk', Buffer.from('abc')], ['data', s16(7, 8)]]), { rate: 8000, channels: 1, samples: [7, 8] }],
  ['WAVE_FORMAT_EXTENSIBLE with PCM subformat', riff([['fmt ', extensibleFmt(2, 48000, 16, 1)], ['data', s16(1, 2)]]), { rate: 48000, channels: 2, samples: [1, 2] }],
  ['streaming placeholder data size is clamped (espeak-ng --stdout)', riff([['fmt ', fmt(1, 22050, 16)], ['data', s16(3, 4, 5), 0x7ffff000]], 0x7ffff024), { rate: 22050, channels: 1, samples: [3, 4, 5] }],
  ['trailing partial frame is dropped', riff([['fmt ', fmt(2, 8000, 16)], ['data', Buffer.concat([s16(1, 2, 3), Buffer.alloc(0)])]]), { rate: 8000, channels: 2, samples: [1, 2] }],
  ['empty data chunk is zero samples', riff([['fmt ', fmt(1, 8000, 16)], ['data', Buffer.alloc(0)]]), { rate: 8000, channels: 1, samples: [] }],
]

for (const [name, file, expected] of good) {
  t.test(`parse: ${name}`, async (t) => {
    const audio = parseWav(file)
    t.equal(audio.sampleRate, expected.rate)
    t.equal(audio.channels, expected.channels)
    t.same([...audio.samples], expected.samples)
  })
}

type Bad = [name: string, file: Buffer, message: RegExp]

const bad: Bad[] = [
  ['empty buffer', Buffer.alloc(0), /not a RIFF/],
  ['text file', Buffer.from('hello world, not audio at all'), /not a RIFF/],
  ['RIFX (big-endian) header', Buffer.concat([Buffer.from('RIFX'), riff([]).subarray(4)]), /not a RIFF/],
  ['no fmt chunk', riff([['data', s16(1)]]), /data chunk before fmt/],
  ['no data chunk', riff([['fmt ', fmt(1, 8000, 16)]]), /no data chunk/],
  ['truncated fmt chunk', riff([['fmt ', fmt(1, 8000, 16).subarray(0, 10)]]), /fmt chunk too short/],
  ['fmt size past the end', riff([['fmt ', fmt(1, 8000, 16), 400]]), /truncated fmt/],
  ['IEEE float', riff([['fmt ', fmt(1, 8000, 32, 3)], ['data', Buffer.alloc(8)]]), /format tag 3/],
  ['A-law', riff([['fmt ', fmt(1, 8000, 8, 6)], ['data', Buffer.alloc(8)]]), /format tag 6/],
  ['24-bit PCM', riff([['fmt ', fmt(1, 8000, 24)], ['data', Buffer.alloc(6)]]), /24-bit/],
  ['extensible float', riff([['fmt ', extensibleFmt(1, 8000, 16, 3)], ['data', Buffer.alloc(4)]]), /format tag 3/],
  ['zero channels', riff([['fmt ', fmt(0, 8000, 16)], ['data', Buffer.alloc(4)]]), /channel count 0|block alignment/],
  ['absurd sample rate', riff([['fmt ', fmt(1, 10, 16)], ['data', Buffer.alloc(4)]]), /sample rate 10/],
]

for (const [name, file, message] of bad) {
  t.test(`reject: ${name}`, async (t) => {
    let caught: unknown
    try {
      parseWav(file)
    } catch (err) {
      caught = err
    }
    t.ok(isPhoneAgentError(caught, 'MEDIA_INVALID'), 'MEDIA_INVALID')
    t.match((caught as Error).message, message)
  })
}

t.test('encode refuses what it cannot write', async (t) => {
  t.throws(() => encodeWav({ sampleRate: 0, channels: 1, samples: new Int16Array(2) }), { code: 'MEDIA_INVALID' })
  t.throws(() => encodeWav({ sampleRate: 8000.5, channels: 1, samples: new Int16Array(2) }), { code: 'MEDIA_INVALID' })
  t.throws(() => encodeWav({ sampleRate: 8000, channels: 2, samples: new Int16Array(3) }), { code: 'MEDIA_INVALID' })
})
