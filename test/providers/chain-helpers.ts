import type { Test } from 'tap'
import { Metrics } from '../../lib/ops/metrics.ts'
import { speechSchema } from '../../lib/speech/config.ts'
import { buildProviders, type Providers } from '../../lib/speech/index.ts'

/** Helpers for the breaker and failover tests: chains built from config, as the service builds them. */

export const CHAT = '/v1/chat/completions'
export const SPEECH = '/v1/audio/speech'
export const TRANSCRIBE = '/v1/audio/transcriptions'
export const MESSAGES = [{ role: 'user', content: 'Pronto?' }] as const

export const serverError = { kind: 'json', status: 500, body: { error: { message: 'boom', type: 'server_error' } } } as const

/** A monotonic clock the test moves by hand: cool-downs end when the test says so. */
export function fakeClock (): { now: () => number, advance: (ms: number) => void } {
  let now = 1000
  return { now: () => now, advance: (ms) => { now += ms } }
}

/** Providers from a `speech:` section, with metrics and a fake clock; closed at teardown. */
export function chains (t: Test, speech: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): { providers: Providers, metrics: Metrics, clock: ReturnType<typeof fakeClock> } {
  const metrics = new Metrics({ processMetrics: false })
  const clock = fakeClock()
  // No retries inside a provider: each request is one attempt, so counts are exact.
  const config = speechSchema.parse({ retry: { maxAttempts: 1 }, ...speech })
  const providers = buildProviders(config, { env, language: 'it-IT', observer: metrics, clock: clock.now })
  t.teardown(() => providers.close())
  return { providers, metrics, clock }
}

/** The value of one series in the Prometheus text, or undefined when it is absent. */
export async function metric (metrics: Metrics, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await metrics.render()
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue
    const inside = line.slice(name.length + 1, line.indexOf('}'))
    const parts = inside.split(',')
    if (parts.length === wanted.length && wanted.every((w) => parts.includes(w))) return Number(line.slice(line.indexOf('}') + 1))
  }
  return undefined
}

/** Rejection of `p`, and whether it came before a macrotask queued when `p` started (no I/O, no timer). */
export async function settlesAtOnce (p: Promise<unknown>): Promise<{ error: unknown, beforeIo: boolean }> {
  let macrotask = false
  const handle = setImmediate(() => { macrotask = true })
  try {
    await p
  } catch (error) {
    clearImmediate(handle)
    return { error, beforeIo: !macrotask }
  }
  clearImmediate(handle)
  throw new Error('expected a rejection')
}
