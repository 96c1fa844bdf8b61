/**
 * The ringback tone the caller hears from us while a transfer target rings: their line is
 * answered (by us), so the network plays nothing. Cadences after ITU-T E.180: 425 Hz 1 s on,
 * 4 s off in most of Europe (Italy, Germany, Austria, Switzerland); 440+480 Hz 2 s on, 4 s off
 * in North America.
 */

interface Cadence { readonly freqs: readonly number[], readonly onMs: number, readonly offMs: number }

const EUROPE: Cadence = { freqs: [425], onMs: 1000, offMs: 4000 }
const NORTH_AMERICA: Cadence = { freqs: [440, 480], onMs: 2000, offMs: 4000 }
const NANP = new Set(['US', 'CA'])

const cache = new Map<string, Int16Array>()

/** One period of ringback (tone then silence) at `rate`, for the country's convention. */
export function ringbackPeriod (rate: number, country: string): Int16Array {
  const cadence = NANP.has(country.toUpperCase()) ? NORTH_AMERICA : EUROPE
  const key = `${rate}:${cadence.freqs.join('+')}`
  const hit = cache.get(key)
  if (hit !== undefined) return hit
  const on = Math.round(rate * cadence.onMs / 1000)
  const total = on + Math.round(rate * cadence.offMs / 1000)
  const out = new Int16Array(total)
  // -16 dBFS overall, with 5 ms ramps so the tone does not click on and off.
  const amplitude = 32767 * 0.158 / cadence.freqs.length
  const ramp = Math.round(rate * 0.005)
  for (let i = 0; i < on; i++) {
    let v = 0
    for (const f of cadence.freqs) v += Math.sin(2 * Math.PI * f * i / rate)
    const edge = Math.min(1, i / ramp, (on - 1 - i) / ramp)
    out[i] = Math.round(v * amplitude * edge)
  }
  cache.set(key, out)
  return out
}
