/**
 * Small measuring tools for bench/capacity.ts: a fixed-bin histogram (hundreds of thousands of
 * intervals per window, so no sorting of raw samples) and the number formatting of the report.
 */

export interface Quantiles {
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly count: number
}

/**
 * Values from 0 to `maxValue` in bins `binWidth` wide; larger values land in the last bin but
 * still count towards `max`. A quantile is reported as its bin's lower edge, which is exact for
 * integer data with a bin width of 1 (the simulator's arrival times are whole milliseconds).
 */
export class Histogram {
  readonly #bins: Float64Array
  readonly #width: number
  #count = 0
  #max = 0

  constructor (maxValue: number, binWidth = 1) {
    this.#width = binWidth
    this.#bins = new Float64Array(Math.ceil(maxValue / binWidth) + 1)
  }

  add (value: number): void {
    const v = Math.max(0, value)
    const bin = Math.min(this.#bins.length - 1, Math.floor(v / this.#width + 1e-9))
    this.#bins[bin] = (this.#bins[bin] as number) + 1
    this.#count++
    if (v > this.#max) this.#max = v
  }

  reset (): void {
    this.#bins.fill(0)
    this.#count = 0
    this.#max = 0
  }

  quantile (q: number): number {
    if (this.#count === 0) return Number.NaN
    const rank = Math.ceil(q * this.#count)
    let seen = 0
    for (let i = 0; i < this.#bins.length; i++) {
      seen += this.#bins[i] as number
      if (seen >= rank) return i === this.#bins.length - 1 ? this.#max : i * this.#width
    }
    return this.#max
  }

  summary (): Quantiles {
    return { p50: this.quantile(0.5), p99: this.quantile(0.99), max: this.#max, count: this.#count }
  }
}

export const MB = 1024 * 1024

export function round (value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value
  const k = 10 ** digits
  return Math.round(value * k) / k
}

/** A table cell: `-` for a missing number. */
export function cell (value: number | undefined, digits = 1): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits)
}

export function markdownTable (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}
