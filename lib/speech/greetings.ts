import { existsSync } from 'node:fs'
import type { Logger } from 'pino'
import { isCallEnded } from '../errors.ts'

/**
 * Pre-rendered greetings: the first thing a caller hears must not wait for a TTS round trip.
 * `sync()` renders every greeting (per script, per known contact) at start-up and again whenever
 * the list changes; answering a call then only needs `lookup()`, a map read.
 */

export interface GreetingSpec {
  readonly text: string
  readonly voice?: string | undefined
  readonly language?: string | undefined
}

/** The part of the TTS cache (`SpeechCache`) greetings need. */
export interface GreetingRenderer {
  render (text: string, options: { voice?: string | undefined, language?: string | undefined, signal?: AbortSignal | undefined }): Promise<{ readonly path: string }>
}

export interface SyncResult {
  readonly rendered: number
  readonly kept: number
  readonly dropped: number
  readonly failed: number
}

function keyOf (text: string, voice: string | undefined, language: string | undefined): string {
  // JSON keeps the three fields apart whatever characters the text holds.
  return JSON.stringify([text, voice ?? '', language ?? ''])
}

export class Greetings {
  readonly #renderer: GreetingRenderer
  readonly #log: Logger | undefined
  readonly #paths = new Map<string, string>()
  /** Keys of the most recent `sync()`: a render finishing after a newer sync dropped it is discarded. */
  #wanted: ReadonlySet<string> = new Set()

  constructor (renderer: GreetingRenderer, options: { log?: Logger | undefined } = {}) {
    this.#renderer = renderer
    this.#log = options.log
  }

  /**
   * Make the rendered set match `specs`: render new or changed greetings, forget removed ones.
   * A greeting that fails to render is logged and left out (the call falls back to live TTS);
   * it never fails start-up. A newer `sync()` supersedes an older one still running.
   */
  async sync (specs: readonly GreetingSpec[], options: { signal?: AbortSignal } = {}): Promise<SyncResult> {
    const wanted = new Map(specs.map(s => [keyOf(s.text, s.voice, s.language), s]))
    this.#wanted = new Set(wanted.keys())
    let dropped = 0
    for (const key of [...this.#paths.keys()]) {
      if (!wanted.has(key)) { this.#paths.delete(key); dropped++ }
    }
    const missing = [...wanted].filter(([key]) => this.#lookupKey(key) === undefined)
    const kept = wanted.size - missing.length
    const outcomes = await Promise.allSettled(missing.map(async ([key, spec]) => {
      const { path } = await this.#renderer.render(spec.text, { voice: spec.voice, language: spec.language, signal: options.signal })
      if (this.#wanted.has(key)) this.#paths.set(key, path)
    }))
    let failed = 0
    for (const o of outcomes) {
      if (o.status === 'fulfilled') continue
      failed++
      if (!isCallEnded(o.reason)) {
        const err = o.reason as { code?: unknown, message?: unknown }
        this.#log?.warn({ code: err?.code, err: err?.message }, 'greeting not pre-rendered')
      }
    }
    const result = { rendered: missing.length - failed, kept, dropped, failed }
    this.#log?.info(result, 'greetings synced')
    return result
  }

  /** The rendered file for this greeting, or undefined (not rendered, or evicted from the cache). */
  lookup (text: string, voice?: string, language?: string): string | undefined {
    return this.#lookupKey(keyOf(text, voice, language))
  }

  #lookupKey (key: string): string | undefined {
    const path = this.#paths.get(key)
    if (path === undefined) return undefined
    // The cache evicts least-recently-used files; a greeting it dropped must be rendered again.
    if (!existsSync(path)) { this.#paths.delete(key); return undefined }
    return path
  }

  get size (): number { return this.#paths.size }
}
