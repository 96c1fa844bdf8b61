/**
 * G.711 A-law, the channel's codec (PCMA/8000). Needed where FreeSWITCH hands out or takes the
 * native payload: unicast with `flags: native` (switch_ivr_activate_unicast() then keeps the read
 * codec instead of an L16 one). The classic reference coder, as in src/include/g711.h.
 */

import { alawToLinear } from '../media/g711.ts'

// The decoder is the product's (what the agent holds a PCMA line's samples as).
export { alawToLinear }

const SEG_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff]

export function linearToAlaw (sample: number): number {
  let pcm = sample >> 3
  let mask: number
  if (pcm >= 0) {
    mask = 0xd5
  } else {
    mask = 0x55
    pcm = -pcm - 1
  }
  let seg = 0
  while (seg < 8 && pcm > (SEG_END[seg] as number)) seg++
  if (seg >= 8) return 0x7f ^ mask
  const aval = (seg << 4) | (seg < 2 ? (pcm >> 1) & 0x0f : (pcm >> seg) & 0x0f)
  return aval ^ mask
}

export function encodeAlaw (samples: Int16Array): Buffer {
  const out = Buffer.alloc(samples.length)
  for (let i = 0; i < samples.length; i++) out[i] = linearToAlaw(samples[i] as number)
  return out
}

export function decodeAlaw (bytes: Buffer): Int16Array {
  const out = new Int16Array(bytes.length)
  for (let i = 0; i < bytes.length; i++) out[i] = alawToLinear(bytes[i] as number)
  return out
}
