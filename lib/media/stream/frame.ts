import { PhoneAgentError } from '../../errors.ts'

/**
 * The wire format of FreeSWITCH's `unicast` media: one datagram per packet of the call (20 ms
 * nearly always; its ptime) of signed 16-bit little-endian mono PCM at the channel's rate, in
 * both directions. Our media path works in 20 ms frames; packet-regroup.ts sends them at the
 * call's ptime.
 */

export const FRAME_MS = 20

export type StreamRate = 8000 | 16000

export function isStreamRate (rate: number): rate is StreamRate {
  return rate === 8000 || rate === 16000
}

export function samplesPerFrame (rate: StreamRate): number {
  return rate * FRAME_MS / 1000
}

/**
 * Until the caller's first RTP packet arrives, the frames FreeSWITCH's park loop streams to
 * unicast (switch_ivr.c, switch_ivr_park) are filled with 0xFF bytes, as seen on a real
 * FreeSWITCH. They are not audio (0xFFFF is -1 in s16, and a real stream is never *all* -1),
 * so a datagram made only of 0xFF is recognised and dropped.
 */
export function isPreRtpFrame (datagram: Buffer): boolean {
  if (datagram.length === 0) return false
  for (let i = 0; i < datagram.length; i++) if (datagram[i] !== 0xff) return false
  return true
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** Datagram bytes -> a fresh Int16Array (the socket reuses nothing, but callers may keep frames). */
export function decodeFrame (datagram: Buffer): Int16Array {
  if (datagram.length % 2 !== 0) throw new PhoneAgentError('MEDIA_INVALID', 'unicast: odd byte count in an L16 datagram')
  const out = new Int16Array(datagram.length / 2)
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(datagram)
  } else {
    for (let i = 0; i < out.length; i++) out[i] = datagram.readInt16LE(i * 2)
  }
  return out
}

/**
 * The samples of one received datagram, without a copy where the host allows: each datagram's
 * bytes are its own, written by nobody else (Node gives each UDP message of a socket a fresh
 * ArrayBuffer, checked on Node 20; the shared socket an aligned stretch of one wake-up's
 * allocation, batch-memory.ts), so an Int16Array view on them is the frame and the
 * per-frame array allocation goes away. A pause in the caller's RTP (an all-0xFF
 * frame) is zeroed in place: it is silence. Big-endian hosts and odd offsets get a copy.
 */
export function frameSamples (datagram: Buffer, gap: boolean): Int16Array {
  if (gap) datagram.fill(0)
  if (LITTLE_ENDIAN && datagram.byteOffset % 2 === 0) return new Int16Array(datagram.buffer, datagram.byteOffset, datagram.length / 2)
  return decodeFrame(datagram)
}

/** Samples -> the bytes of one datagram (a copy: the pacer reuses its frame buffers). */
export function encodeFrame (samples: Int16Array, into: Buffer): Buffer {
  if (into.length !== samples.length * 2) throw new PhoneAgentError('MEDIA_INVALID', 'unicast: frame buffer size mismatch')
  if (LITTLE_ENDIAN) {
    into.set(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength))
  } else {
    for (let i = 0; i < samples.length; i++) into.writeInt16LE(samples[i] ?? 0, i * 2)
  }
  return into
}

const silence = new Map<StreamRate, Buffer>()

/**
 * One shared all-zero frame per rate. Shared across calls because dgram only reads the
 * buffer; it must never be written.
 */
export function silenceFrame (rate: StreamRate): Buffer {
  let frame = silence.get(rate)
  if (frame === undefined) {
    frame = Buffer.alloc(samplesPerFrame(rate) * 2)
    silence.set(rate, frame)
  }
  return frame
}
