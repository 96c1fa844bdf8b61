/**
 * G.711's 256 sample values per law, for holding audio that came from a G.711 line in a byte per
 * sample without losing anything (held-pcm.ts). A SIP trunk's call is PCMA or PCMU almost always,
 * and FreeSWITCH's unicast hands us that codec's decoded samples as L16: each one is one of the
 * law's 256 values, so its code says it exactly. The decoders are the classic reference coder's
 * (FreeSWITCH's src/include/g711.h, `alaw_to_linear` and `ulaw_to_linear`). Checked on a real
 * FreeSWITCH 1.11: 16,830 unicast datagrams of PCMA and PCMU calls, every one all 0xFF or exact
 * in its law, and all 256 codes of each decoded as here (docs/simulator.md, "unicast L16 from
 * G.711 calls").
 */

export interface G711Law {
  readonly name: 'alaw' | 'ulaw'
  /** The sample each code stands for. */
  readonly values: Int16Array
  /**
   * For each sample (as an unsigned 16-bit index): 1 + the code that stands for it, 0 if none
   * does. One load per sample tells both whether it is exact and its code (a frame is checked and
   * coded in one pass: encodeExact).
   */
  readonly codes: Uint16Array
}

/** A-law code to its sample (g711.h alaw_to_linear). */
export function alawToLinear (code: number): number {
  const a = code ^ 0x55
  let t = (a & 0x0f) << 4
  const seg = (a & 0x70) >> 4
  if (seg === 0) t += 8
  else if (seg === 1) t += 0x108
  else t = (t + 0x108) << (seg - 1)
  return (a & 0x80) !== 0 ? t : -t
}

const ULAW_BIAS = 0x84

function ulawValue (code: number): number {
  const u = ~code & 0xff
  const t = (((u & 0x0f) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4)
  return (u & 0x80) !== 0 ? ULAW_BIAS - t : t - ULAW_BIAS
}

function law (name: G711Law['name'], value: (code: number) => number): G711Law {
  const values = Int16Array.from({ length: 256 }, (_, c) => value(c))
  // PCMU's two zeros (0x7f, 0xff) both decode to 0; either code will do.
  const codes = new Uint16Array(65536)
  for (let c = 0; c < 256; c++) codes[(values[c] as number) & 0xffff] = c + 1
  return { name, values, codes }
}

let laws: readonly G711Law[] | undefined

/** A-law first: the simulator's and most European trunks' codec (PCMA). Made on first use: 256 KB. */
export function g711Laws (): readonly G711Law[] {
  laws ??= [law('alaw', alawToLinear), law('ulaw', ulawValue)]
  return laws
}

/** The first law every sample of `samples` is a value of, if any (no closure: a frame's check allocates nothing). */
export function exactLaw (samples: Int16Array): G711Law | undefined {
  for (const l of g711Laws()) if (isExact(l, samples)) return l
  return undefined
}

/** Every sample of `samples` is one of the law's values. */
export function isExact (lawOf: G711Law, samples: Int16Array): boolean {
  const codes = lawOf.codes
  for (let i = 0; i < samples.length; i++) {
    if (codes[(samples[i] as number) & 0xffff] === 0) return false
  }
  return true
}

/**
 * Writes the code of each sample of `samples` into `out` from `at`, as long as each is one of the
 * law's values; false at the first that is not (what was written before it stays, to be ignored).
 */
export function encodeExact (lawOf: G711Law, samples: Int16Array, out: Uint8Array, at: number): boolean {
  const codes = lawOf.codes
  for (let i = 0; i < samples.length; i++) {
    const c = codes[(samples[i] as number) & 0xffff] as number
    if (c === 0) return false
    out[at + i] = c - 1
  }
  return true
}
