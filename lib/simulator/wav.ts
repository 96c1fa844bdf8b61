import { PhoneAgentError } from '../errors.ts'

/**
 * Minimal RIFF/WAVE reader and writer for the simulator: 16-bit PCM only, which is what
 * FreeSWITCH's `record` writes at the channel rate and what our TTS cache produces.
 * Private to the simulator (lib/media/wav.ts is the product's own helper).
 */

export interface WavData {
  readonly sampleRate: number
  readonly channels: number
  /** Signed 16-bit little-endian samples, interleaved when channels > 1. */
  readonly pcm: Buffer
}

export function parseWav (buf: Buffer): WavData {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') {
    throw new PhoneAgentError('MEDIA_INVALID', 'not a RIFF/WAVE file')
  }
  let offset = 12
  let fmt: { format: number, channels: number, sampleRate: number, bits: number } | undefined
  while (offset + 8 <= buf.length) {
    const id = buf.toString('latin1', offset, offset + 4)
    const size = buf.readUInt32LE(offset + 4)
    const body = offset + 8
    if (id === 'fmt ' && size >= 16) {
      fmt = {
        format: buf.readUInt16LE(body),
        channels: buf.readUInt16LE(body + 2),
        sampleRate: buf.readUInt32LE(body + 4),
        bits: buf.readUInt16LE(body + 14),
      }
    } else if (id === 'data') {
      if (fmt === undefined) throw new PhoneAgentError('MEDIA_INVALID', 'WAVE data chunk before fmt chunk')
      // 0xFFFE is WAVE_FORMAT_EXTENSIBLE, which sox and some encoders use for plain PCM too.
      if ((fmt.format !== 1 && fmt.format !== 0xfffe) || fmt.bits !== 16) {
        throw new PhoneAgentError('MEDIA_INVALID', `unsupported WAVE format ${fmt.format}/${fmt.bits} bits`)
      }
      // A streaming writer may leave the size at 0 or 0xFFFFFFFF: take what is there.
      const end = size === 0 || body + size > buf.length ? buf.length : body + size
      return { sampleRate: fmt.sampleRate, channels: fmt.channels, pcm: buf.subarray(body, end - ((end - body) % 2)) }
    }
    offset = body + size + (size % 2)
  }
  throw new PhoneAgentError('MEDIA_INVALID', 'WAVE file has no data chunk')
}

export function wavDurationMs (wav: WavData): number {
  return (wav.pcm.length / 2 / wav.channels / wav.sampleRate) * 1000
}

export function buildWav (pcm: Buffer, sampleRate = 8000, channels = 1): Buffer {
  const header = Buffer.alloc(44)
  header.write('RIFF', 0, 'latin1')
  header.writeUInt32LE(36 + pcm.length, 4)
  header.write('WAVE', 8, 'latin1')
  header.write('fmt ', 12, 'latin1')
  header.writeUInt32LE(16, 16)
  header.writeUInt16LE(1, 20)
  header.writeUInt16LE(channels, 22)
  header.writeUInt32LE(sampleRate, 24)
  header.writeUInt32LE(sampleRate * channels * 2, 28)
  header.writeUInt16LE(channels * 2, 32)
  header.writeUInt16LE(16, 34)
  header.write('data', 36, 'latin1')
  header.writeUInt32LE(pcm.length, 40)
  return Buffer.concat([header, pcm])
}

/** Mono 8 kHz PCM from any 16-bit WAV: first channel, nearest-sample rate conversion (test audio only). */
export function toMono8k (wav: WavData): Int16Array {
  const frames = wav.pcm.length / 2 / wav.channels
  const outLen = Math.floor(frames * 8000 / wav.sampleRate)
  const out = new Int16Array(outLen)
  for (let i = 0; i < outLen; i++) {
    const src = Math.min(frames - 1, Math.floor(i * wav.sampleRate / 8000))
    out[i] = wav.pcm.readInt16LE(src * wav.channels * 2)
  }
  return out
}
