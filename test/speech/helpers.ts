import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import { bytesFromInt16 } from '../../lib/media/pcm.ts'
import { AsyncQueue } from '../../lib/providers/async-queue.ts'
import type { PcmChunk, TtsProvider, TtsRequest } from '../../lib/speech/types.ts'

export function quiet (): Logger {
  return pino({ level: 'silent' }, new Writable({ write (_c, _e, cb) { cb() } }))
}

export function soundsDir (t: { teardown (fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'voice-stream-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Every file in the cache folder, temp files included. */
export function cacheFiles (dir: string): string[] {
  try {
    return readdirSync(join(dir, 'cache')).sort()
  } catch {
    return []
  }
}

/** One synthesis of a ScriptedTts: the test decides when each chunk arrives and how it ends. */
export class Feed {
  readonly request: TtsRequest
  readonly queue = new AsyncQueue<PcmChunk>()
  aborted = false
  constructor (request: TtsRequest, readonly rate: number) { this.request = request }
  send (samples: Int16Array): void { this.queue.push({ pcm: bytesFromInt16(samples), sampleRate: this.rate }) }
  end (): void { this.queue.end() }
  fail (err: unknown): void { this.queue.fail(err) }
}

/**
 * A provider whose chunks the test hands over one by one (`feeds[n].send(...)`), so "the first
 * chunk reached the consumer before the provider had the last" is checked without any timing.
 */
export class ScriptedTts implements TtsProvider {
  readonly name = 'scripted'
  readonly feeds: Feed[] = []
  readonly #waiters: Array<() => void> = []
  constructor (readonly rate = 24000) {}

  voiceId (request: TtsRequest): string { return `scripted/${request.voice ?? 'default'}` }

  async * synthesize (request: TtsRequest, options: { signal?: AbortSignal }): AsyncIterable<PcmChunk> {
    const feed = new Feed(request, this.rate)
    this.feeds.push(feed)
    for (const w of this.#waiters.splice(0)) w()
    const signal = options.signal
    const onAbort = (): void => { feed.aborted = true; feed.queue.fail(signal?.reason) }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      yield * feed.queue
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Resolves with the n-th synthesis (0-based) once it has started. */
  async feed (n: number): Promise<Feed> {
    while (this.feeds[n] === undefined) await new Promise<void>((resolve) => this.#waiters.push(resolve))
    return this.feeds[n] as Feed
  }
}

/** A deterministic speech-like signal (two tones and a ramp) of `n` samples. */
export function voice (n: number, seed = 1): Int16Array {
  const out = new Int16Array(n)
  for (let i = 0; i < n; i++) {
    out[i] = Math.round(8000 * Math.sin(i * 0.05 * seed) + 4000 * Math.sin(i * 0.31) + ((i * 37) % 200) - 100)
  }
  return out
}

export function concat (parts: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

/** Let pending I/O callbacks and microtasks run. */
export async function settle (rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** Sample-for-sample equality (tap's deep comparison is slow on long arrays). */
export function sameSamples (a: Int16Array, b: Int16Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}
