import type { PricingConfig } from './pricing.ts'

/**
 * Per-call usage: one meter per call, passed to every provider request made for it. Providers
 * add what they consumed; the call record reads `snapshot()` and `cost()` at hangup.
 */

export type UsageKind = 'stt' | 'llm' | 'tts'

export interface UsageLine {
  readonly kind: UsageKind
  /** Configured provider name (`openai`, `groq`, `google`). */
  readonly provider: string
  readonly model: string | undefined
  /** STT: seconds of audio sent. */
  readonly audioSeconds: number
  readonly inputTokens: number
  readonly outputTokens: number
  /** TTS: characters synthesized (cache hits cost nothing and are not counted). */
  readonly characters: number
  readonly requests: number
}

export interface CostLine extends UsageLine {
  /** Undefined when the price table has no entry for this provider/model. */
  readonly cost: number | undefined
}

export interface CostSummary {
  readonly currency: string
  readonly total: number
  /** Lines without a price: the total leaves them out, the report should say so. */
  readonly unpriced: number
  readonly lines: readonly CostLine[]
}

type MutableLine = { -readonly [K in keyof UsageLine]: UsageLine[K] }

export class UsageMeter {
  readonly #lines = new Map<string, MutableLine>()

  #line (kind: UsageKind, provider: string, model: string | undefined): MutableLine {
    const key = `${kind}\u0000${provider}\u0000${model ?? ''}`
    let line = this.#lines.get(key)
    if (line === undefined) {
      line = { kind, provider, model, audioSeconds: 0, inputTokens: 0, outputTokens: 0, characters: 0, requests: 0 }
      this.#lines.set(key, line)
    }
    return line
  }

  addStt (provider: string, model: string | undefined, audioSeconds: number): void {
    const line = this.#line('stt', provider, model)
    line.audioSeconds += nonNegative(audioSeconds)
    line.requests++
  }

  addLlm (provider: string, model: string | undefined, inputTokens: number, outputTokens: number): void {
    const line = this.#line('llm', provider, model)
    line.inputTokens += nonNegative(inputTokens)
    line.outputTokens += nonNegative(outputTokens)
    line.requests++
  }

  addTts (provider: string, model: string | undefined, characters: number): void {
    const line = this.#line('tts', provider, model)
    line.characters += nonNegative(characters)
    line.requests++
  }

  snapshot (): UsageLine[] {
    return [...this.#lines.values()].map(l => ({ ...l }))
  }

  /** Estimated cost from the price table; `provider:model` wins over a bare `provider` entry. */
  cost (pricing: PricingConfig): CostSummary {
    let total = 0
    let unpriced = 0
    const lines = this.snapshot().map((l): CostLine => {
      const cost = lineCost(l, pricing)
      if (cost === undefined) unpriced++
      else total += cost
      return { ...l, cost }
    })
    return { currency: pricing.currency, total, unpriced, lines }
  }
}

function lookup<T> (table: Record<string, T>, provider: string, model: string | undefined): T | undefined {
  return (model === undefined ? undefined : table[`${provider}:${model}`]) ?? table[provider]
}

function lineCost (l: UsageLine, pricing: PricingConfig): number | undefined {
  switch (l.kind) {
    case 'stt': {
      const p = lookup(pricing.stt, l.provider, l.model)
      return p === undefined ? undefined : p.perMinute * l.audioSeconds / 60
    }
    case 'llm': {
      const p = lookup(pricing.llm, l.provider, l.model)
      return p === undefined ? undefined : (p.inputPerMillionTokens * l.inputTokens + p.outputPerMillionTokens * l.outputTokens) / 1e6
    }
    case 'tts': {
      const p = lookup(pricing.tts, l.provider, l.model)
      return p === undefined ? undefined : p.perMillionCharacters * l.characters / 1e6
    }
  }
}

function nonNegative (n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0
}
