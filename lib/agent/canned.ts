import { createHash, randomUUID } from 'node:crypto'
import { copyFile, mkdir, rename, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from 'pino'

/**
 * Fixed phrases (apology, goodbye, reprompt, greeting) rendered at start-up, so the moments when
 * a provider has just failed never depend on TTS. The files are copied out of the TTS cache into
 * `<soundsDir>/agent/`, where the cache's size-based eviction cannot reach them.
 */

export interface CannedSpec {
  readonly text: string
  readonly language: string
  readonly voice?: string | undefined
}

export interface CannedRenderer {
  render (text: string, options: { voice?: string | undefined, language?: string | undefined, signal?: AbortSignal | undefined }): Promise<{ readonly path: string }>
}

function keyOf (text: string, language: string, voice: string | undefined): string {
  return JSON.stringify([text, language, voice ?? ''])
}

export class CannedSpeech {
  readonly #dir: string
  readonly #paths = new Map<string, string>()

  constructor (soundsDir: string) {
    this.#dir = join(soundsDir, 'agent')
  }

  /** Render every spec not rendered yet. A failure is logged and left to live TTS at call time. */
  async prerender (renderer: CannedRenderer, specs: readonly CannedSpec[], log?: Logger): Promise<{ rendered: number, failed: number }> {
    await mkdir(this.#dir, { recursive: true })
    let rendered = 0
    let failed = 0
    for (const spec of specs) {
      const key = keyOf(spec.text, spec.language, spec.voice)
      if (this.lookup(spec.text, spec.language, spec.voice) !== undefined) continue
      try {
        const { path } = await renderer.render(spec.text, { language: spec.language, voice: spec.voice })
        // The name is a hash of the key: phrase text never becomes part of a path.
        const target = join(this.#dir, `${createHash('sha1').update(key).digest('hex')}.wav`)
        // A temp name of this process's own: with `server.workers` every worker renders the same
        // phrases into the same directory at once, and a shared name had one worker's rename move
        // the other's file away (ENOENT: that worker then synthesised the phrase on every call).
        const temp = `${target}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`
        try {
          await copyFile(path, temp)
          await rename(temp, target)
        } catch (err) {
          await rm(temp, { force: true })
          throw err
        }
        this.#paths.set(key, target)
        rendered++
      } catch (err) {
        failed++
        log?.warn({ err, language: spec.language }, 'agent phrase not pre-rendered; it will be synthesised when needed')
      }
    }
    return { rendered, failed }
  }

  /** The pre-rendered file, or undefined. */
  lookup (text: string, language: string, voice?: string): string | undefined {
    const key = keyOf(text, language, voice)
    const path = this.#paths.get(key)
    if (path === undefined) return undefined
    if (!existsSync(path)) { this.#paths.delete(key); return undefined }
    return path
  }

  get size (): number { return this.#paths.size }
}
