import { endianness } from 'node:os'
import { PhoneAgentError } from '../errors.ts'
import { int16FromBytes } from './pcm.ts'

/**
 * RIFF/WAVE PCM: parse what engines and users hand us, write what FreeSWITCH plays.
 *
 * Pure functions over Buffers. Samples are always returned as signed 16-bit, interleaved when
 * there is more than one channel; 8-bit input is widened so callers handle one sample type.
 */

export interface PcmAudio {
  readonly sampleRate: number
  readonly channels: number
  /** Signed 16-bit samples, interleaved by channel. */
  readonly samples: Int16Array
}

const WAVE_FORMAT_PCM = 0x0001
const LITTLE_ENDIAN = endianness() === 'LE'
const WAVE_FORMAT_EXTENSIBLE = 0xfffe
/** First two bytes of KSDATAFORMAT_SUBTYPE_PCM; the remaining 14 are the fixed GUID tail. */
const SUBTYPE_PCM_TAIL = Buffer.from('000000001000800000aa00389b71', 'hex')
const MAX_CHANNELS = 8
const MIN_RATE = 1000
const MAX_RATE = 384_000

function invalid (message: string): PhoneAgentError {
  return new PhoneAgentError('MEDIA_INVALID', `wav: ${message}`)
}

interface Format {
  channels: number
  sampleRate: number
  bitsPerSample: number
}

function parseFmt (body: Buffer): Format {
  if (body.length < 16) throw invalid('fmt chunk too short')
  let formatTag = body.readUInt16LE(0)
  const channels = body.readUInt16LE(2)
  const sampleRate = body.readUInt32LE(4)
  const blockAlign = body.readUInt16LE(12)
  const bitsPerSample = body.readUInt16LE(14)
  if (formatTag === WAVE_FORMAT_EXTENSIBLE) {
    // Some tools (sox, ffmpeg for >2 channels) always write the extensible form; the real
    // format is the first two bytes of the SubFormat GUID at offset 24.
    if (body.length < 40) throw invalid('extensible fmt chunk too short')
    if (!body.subarray(26, 40).equals(SUBTYPE_PCM_TAIL)) throw invalid('extensible format is not PCM')
    formatTag = body.readUInt16LE(24)
  }
  if (formatTag !== WAVE_FORMAT_PCM) throw invalid(`unsupported format tag ${formatTag} (only PCM)`)
  if (bitsPerSample !== 8 && bitsPerSample !== 16) throw invalid(`unsupported ${bitsPerSample}-bit samples (only 8 or 16)`)
  if (channels < 1 || channels > MAX_CHANNELS) throw invalid(`unsupported channel count ${channels}`)
  if (sampleRate < MIN_RATE || sampleRate > MAX_RATE) throw invalid(`unsupported sample rate ${sampleRate}`)
  if (blockAlign !== channels * bitsPerSample / 8) throw invalid('block alignment does not match the format')
  return { channels, sampleRate, bitsPerSample }
}

/** Where a RIFF/WAVE file's audio sits, as its header declares it (sizes unchecked against the file). */
export interface WavLayout {
  readonly sampleRate: number
  readonly channels: number
  readonly bitsPerSample: number
  /** Byte offset of the first sample (just past the data chunk's 8-byte head). */
  readonly dataOffset: number
  /** The data chunk's declared size: 0 or 0xFFFFFFFF when a streaming writer never patched it. */
  readonly declaredDataBytes: number
  /** The RIFF chunk's declared size (file length minus 8 when correct). */
  readonly declaredRiffBytes: number
}

/**
 * Walk a RIFF/WAVE header up to the data chunk. `buf` may be only the start of the file: the
 * data chunk's body need not be in it. Unknown chunks (LIST, fact, cue) are skipped.
 */
export function parseWavLayout (buf: Buffer): WavLayout {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') {
    throw invalid('not a RIFF/WAVE file')
  }
  let format: Format | undefined
  let offset = 12
  while (offset + 8 <= buf.length) {
    const id = buf.toString('latin1', offset, offset + 4)
    const size = buf.readUInt32LE(offset + 4)
    const start = offset + 8
    if (id === 'fmt ') {
      if (start + size > buf.length) throw invalid('truncated fmt chunk')
      format = parseFmt(buf.subarray(start, start + size))
    } else if (id === 'data') {
      if (format === undefined) throw invalid('data chunk before fmt chunk')
      return { ...format, dataOffset: start, declaredDataBytes: size, declaredRiffBytes: buf.readUInt32LE(4) }
    }
    // Chunks are padded to an even length (RIFF spec); the pad byte is not in `size`.
    offset = start + size + (size & 1)
  }
  throw invalid(format === undefined ? 'no fmt chunk' : 'no data chunk')
}

/**
 * Parse a RIFF/WAVE file. A data chunk whose size runs past the end of the buffer is clamped:
 * streaming writers (`espeak-ng --stdout`, sox to a pipe, our own recorder killed mid-message)
 * cannot seek back to patch the sizes and leave a placeholder there.
 */
export function parseWav (buf: Buffer): PcmAudio {
  const layout = parseWavLayout(buf)
  const end = Math.min(layout.dataOffset + layout.declaredDataBytes, buf.length)
  return { sampleRate: layout.sampleRate, channels: layout.channels, samples: decodeSamples(buf.subarray(layout.dataOffset, end), layout) }
}

function decodeSamples (data: Buffer, format: Format): Int16Array {
  const frameBytes = format.channels * format.bitsPerSample / 8
  // A trailing partial frame (a writer killed mid-sample) is dropped, not misread.
  const frames = Math.floor(data.length / frameBytes)
  const count = frames * format.channels
  // 16-bit: one byte copy on a little-endian host (pcm.ts), not a readInt16LE per sample (a 2 s
  // cached or vendor reply at 24 kHz: ~0.6 ms of a turn, issue 18).
  if (format.bitsPerSample === 16) return int16FromBytes(data.subarray(0, count * 2))
  // 8-bit WAV is unsigned with 128 as silence.
  const out = new Int16Array(count)
  for (let i = 0; i < count; i++) out[i] = ((data[i] ?? 128) - 128) << 8
  return out
}

/** Size of the header `encodeWav` writes; lets a cache derive duration from a file's size. */
export const CANONICAL_HEADER_BYTES = 44

/** A canonical 44-byte-header 16-bit PCM WAV, the form FreeSWITCH's mod_sndfile reads. */
export function encodeWav (audio: PcmAudio): Buffer {
  const { sampleRate, channels, samples } = audio
  const header = wavHeader(sampleRate, channels, samples.length * 2)
  if (samples.length % channels !== 0) throw invalid('sample count is not a whole number of frames')
  const buf = Buffer.alloc(CANONICAL_HEADER_BYTES + samples.length * 2)
  header.copy(buf, 0)
  // On a little-endian host the samples' memory is already the file's layout: one copy, not a
  // call per sample (a TTS reply's cache file: 0.4 ms of a turn's CPU, issue 18).
  if (LITTLE_ENDIAN) buf.set(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength), CANONICAL_HEADER_BYTES)
  else for (let i = 0; i < samples.length; i++) buf.writeInt16LE(samples[i] ?? 0, 44 + i * 2)
  return buf
}

/**
 * The canonical 44-byte header of a 16-bit PCM WAV holding `dataBytes` of audio. A streaming
 * writer passes 0xFFFFFFFF (the conventional "unknown length", which readers clamp to the file)
 * and patches the sizes when it ends.
 */
export function wavHeader (sampleRate: number, channels: number, dataBytes: number): Buffer {
  if (!Number.isInteger(sampleRate) || sampleRate < MIN_RATE || sampleRate > MAX_RATE) throw invalid(`cannot write sample rate ${sampleRate}`)
  if (!Number.isInteger(channels) || channels < 1 || channels > MAX_CHANNELS) throw invalid(`cannot write ${channels} channels`)
  const buf = Buffer.alloc(CANONICAL_HEADER_BYTES)
  buf.write('RIFF', 0, 'latin1')
  buf.writeUInt32LE(Math.min(36 + dataBytes, 0xffffffff), 4)
  buf.write('WAVE', 8, 'latin1')
  buf.write('fmt ', 12, 'latin1')
  buf.writeUInt32LE(16, 16)
  buf.writeUInt16LE(WAVE_FORMAT_PCM, 20)
  buf.writeUInt16LE(channels, 22)
  buf.writeUInt32LE(sampleRate, 24)
  buf.writeUInt32LE(sampleRate * channels * 2, 28)
  buf.writeUInt16LE(channels * 2, 32)
  buf.writeUInt16LE(16, 34)
  buf.write('data', 36, 'latin1')
  buf.writeUInt32LE(dataBytes, 40)
  return buf
}
