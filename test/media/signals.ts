/** Test signals and measurements for the audio tests. */

export function sine (freq: number, rate: number, seconds: number, amplitude = 16000): Int16Array {
  const n = Math.round(rate * seconds)
  const out = new Int16Array(n)
  for (let i = 0; i < n; i++) out[i] = Math.round(amplitude * Math.sin(2 * Math.PI * freq * i / rate))
  return out
}

/** Power of one frequency (Goertzel), normalised so a full-band sine of amplitude A gives A^2/2. */
export function toneEnergy (samples: Int16Array, freq: number, rate: number): number {
  const w = 2 * Math.PI * freq / rate
  const coeff = 2 * Math.cos(w)
  let s1 = 0
  let s2 = 0
  for (let i = 0; i < samples.length; i++) {
    const s0 = (samples[i] ?? 0) + coeff * s1 - s2
    s2 = s1
    s1 = s0
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2
  return 2 * power / (samples.length * samples.length)
}

export function meanSquare (samples: Int16Array): number {
  let sum = 0
  for (let i = 0; i < samples.length; i++) sum += (samples[i] ?? 0) ** 2
  return samples.length === 0 ? 0 : sum / samples.length
}

export function db (ratio: number): number {
  return 10 * Math.log10(Math.max(ratio, 1e-30))
}

/** The middle of a signal, away from the edges where the filter sees zeros. */
export function middle (samples: Int16Array, margin = 0.1): Int16Array {
  return samples.subarray(Math.floor(samples.length * margin), Math.floor(samples.length * (1 - margin)))
}
