import { access, mkdir, readdir, stat, unlink, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { PhoneAgentError } from '../errors.ts'
import { CANONICAL_HEADER_BYTES } from '../media/wav.ts'

/**
 * The speech cache's directory: which files it holds, their total size, and least-recently-used
 * eviction under a bound (a hit touches the file's mtime, which is what the start-up scan
 * orders by; at most every RESTAMP_MS). Names are `<hash>.wav`; writes go through
 * `.<key>.<pid>.<random>.tmp` files that tts-cache.ts renames into place.
 */

const NAME = /^([0-9a-f]{40})\.wav$/
/** A temp file this old belongs to a process that died mid-write. */
const STALE_TEMP_MS = 60 * 60 * 1000
/**
 * A hit moves its file's mtime on at most this often. The mtime only orders the start-up scan
 * (in the process the index's order is exact), and stream mode's decoded-audio cache
 * (lib/call/stream/decoded-audio.ts) keys a file on its mtime and size, as it must for a prompt
 * replaced on disk: a new mtime on every hit made every play of a cached prompt (the ring-back,
 * the recording notice, an apology: render, then play) read and decode the file again, a copy
 * per call where one is shared.
 */
const RESTAMP_MS = 10 * 60 * 1000

export interface CacheDirectoryOptions {
  readonly dir: string
  readonly maxBytes: number
  readonly logger: Logger
  /** True for a file that must not be evicted now (its synthesis or write is in progress). */
  readonly busy: (name: string) => boolean
}

export class CacheDirectory {
  readonly dir: string
  readonly #maxBytes: number
  readonly #logger: Logger
  readonly #busy: (name: string) => boolean
  /** name -> size; Map order is least recently used first. */
  readonly #index = new Map<string, number>()
  /** name -> when this process last set its mtime (written, or a hit's utimes). */
  readonly #stamped = new Map<string, number>()
  #total = 0
  #ready: Promise<void> | undefined
  /** The scan has completed: init() need not be awaited (a sentence's path skips the hop). */
  scanned = false

  constructor (options: CacheDirectoryOptions) {
    this.dir = options.dir
    this.#maxBytes = options.maxBytes
    this.#logger = options.logger
    this.#busy = options.busy
  }

  /** Bytes of cache files this process knows about. */
  get sizeBytes (): number {
    return this.#total
  }

  /** Whether `name` is in the index (written or found by this process; the file may since have gone). */
  has (name: string): boolean {
    return this.#index.has(name)
  }

  /** Size of `name` (`<key>.wav`) when it exists (and mark it used), else undefined. */
  async touch (name: string): Promise<number | undefined> {
    const known = this.#index.get(name)
    if (known !== undefined) {
      // Most recent before the first await, so a concurrent eviction passes it over.
      this.#index.delete(name)
      this.#index.set(name, known)
    }
    const path = join(this.dir, name)
    const now = new Date()
    try {
      const stamped = this.#stamped.get(name)
      if (known !== undefined && stamped !== undefined && now.getTime() - stamped < RESTAMP_MS) {
        // Still there? (Retention or another process may have deleted it.) Its mtime is left alone.
        await access(path)
        return known
      }
      await utimes(path, now, now)
      this.#stamped.set(name, now.getTime())
      if (known !== undefined) return known
      // Written by another process sharing the directory since our scan.
      const { size } = await stat(path)
      this.add(name, size)
      return size
    } catch {
      if (known !== undefined) this.remove(name)
      return undefined
    }
  }

  add (name: string, size: number): void {
    const old = this.#index.get(name)
    if (old !== undefined) this.#total -= old
    this.#index.delete(name)
    this.#index.set(name, size)
    this.#total += size
  }

  /** `name` was just written: its mtime is now. */
  written (name: string, size: number): void {
    this.add(name, size)
    this.#stamped.set(name, Date.now())
  }

  remove (name: string): void {
    const size = this.#index.get(name)
    this.#stamped.delete(name)
    if (size === undefined) return
    this.#index.delete(name)
    this.#total -= size
  }

  /**
   * Drop least recently used files until under the bound; `keep` (just written) stays even if
   * alone over it. Resolves once the files are gone, so the directory and `sizeBytes` agree.
   */
  async evict (keep?: string): Promise<void> {
    if (this.#total <= this.#maxBytes) return
    const victims: string[] = []
    let total = this.#total
    for (const [name, size] of this.#index) {
      if (total <= this.#maxBytes) break
      if (name === keep || this.#busy(name)) continue
      victims.push(name)
      total -= size
    }
    // Out of the index before the first await, so concurrent renders never pick them again.
    for (const name of victims) this.remove(name)
    await Promise.all(victims.map(async (name) => {
      try {
        // FreeSWITCH playing the file keeps its open descriptor: unlinking does not cut a prompt off.
        await unlink(join(this.dir, name))
      } catch (err) {
        // Already gone: another process sharing the directory (a sibling worker with
        // server.workers > 1, each keeping its own index) evicted it first. That is the outcome wanted.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
        this.#logger.warn({ err, file: name }, 'speech cache could not delete a file')
      }
    }))
    if (victims.length > 0) this.#logger.debug({ files: victims.length, bytes: this.#total }, 'speech cache evicted')
  }

  init (): Promise<void> {
    this.#ready ??= this.#scan()
    return this.#ready
  }

  async #scan (): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true })
      const found: Array<{ name: string, size: number, mtimeMs: number }> = []
      for (const name of await readdir(this.dir)) {
        const isTemp = name.startsWith('.') && name.endsWith('.tmp')
        if (!isTemp && !NAME.test(name)) continue
        const info = await stat(join(this.dir, name)).catch(() => undefined)
        if (info === undefined || !info.isFile()) continue
        if (isTemp) {
          if (Date.now() - info.mtimeMs > STALE_TEMP_MS) await unlink(join(this.dir, name)).catch(() => {})
        } else if (info.size < CANONICAL_HEADER_BYTES) {
          await unlink(join(this.dir, name)).catch(() => {})
        } else {
          found.push({ name, size: info.size, mtimeMs: info.mtimeMs })
        }
      }
      found.sort((a, b) => a.mtimeMs - b.mtimeMs)
      for (const f of found) this.add(f.name, f.size)
    } catch (cause) {
      this.#ready = undefined
      throw new PhoneAgentError('MEDIA_INVALID', 'cannot use the speech cache directory', { cause })
    }
    this.#logger.debug({ files: this.#index.size, bytes: this.#total }, 'speech cache scanned')
    await this.evict()
    this.scanned = true
  }
}
