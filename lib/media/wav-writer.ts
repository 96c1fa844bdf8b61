import { open, unlink, type FileHandle } from 'node:fs/promises'
import { endianness } from 'node:os'
import { CANONICAL_HEADER_BYTES, wavHeader } from './wav.ts'

/** The "length unknown" value streaming writers leave in a WAV header; readers clamp it to the file. */
export const WAV_PLACEHOLDER_SIZE = 0xffffffff

export interface WavWriterOptions {
  readonly sampleRate: number
  readonly channels?: number
  /**
   * Audio held in memory before it is appended to the file. A crash of this process loses at
   * most this much (what reached the kernel survives a kill -9); default 500 ms.
   */
  readonly flushMs?: number
}

export interface WrittenWav {
  readonly path: string
  readonly dataBytes: number
  readonly durationMs: number
}

const LITTLE_ENDIAN = endianness() === 'LE'

/**
 * A 16-bit PCM WAV written while it is recorded: the header goes first with placeholder sizes,
 * samples are appended in ~flushMs chunks (asynchronous writes, one in flight at a time, so
 * the event loop never blocks on the disk), and the sizes are patched by close(). A process
 * killed mid-recording leaves a file whose header `repairWavHeader` fixes from its length.
 *
 * A write failure (disk full) stops further writes and is thrown by close(); write() itself
 * never throws, since it runs once per 20 ms frame inside the recording loop.
 */
export class WavFileWriter {
  readonly path: string
  readonly #fh: FileHandle
  readonly #sampleRate: number
  readonly #channels: number
  readonly #flushBytes: number
  #pending: Buffer[] = []
  #pendingBytes = 0
  /** Bytes handed to the file (written or in flight), after the header. */
  #dataBytes = 0
  #writes: Promise<void> = Promise.resolve()
  #error: unknown
  #done = false

  private constructor (path: string, fh: FileHandle, sampleRate: number, channels: number, flushMs: number) {
    this.path = path
    this.#fh = fh
    this.#sampleRate = sampleRate
    this.#channels = channels
    this.#flushBytes = Math.max(2, Math.round(sampleRate * channels * 2 * flushMs / 1000))
  }

  /** Create (or truncate) the file and write the header; the file is a valid, empty WAV from here on. */
  static async create (path: string, options: WavWriterOptions): Promise<WavFileWriter> {
    const channels = options.channels ?? 1
    // Validates rate and channels the way encodeWav does, before a file exists.
    const header = wavHeader(options.sampleRate, channels, WAV_PLACEHOLDER_SIZE)
    const fh = await open(path, 'w')
    try {
      await writeAll(fh, header, 0)
    } catch (err) {
      await fh.close().catch(() => {})
      throw err
    }
    return new WavFileWriter(path, fh, options.sampleRate, channels, options.flushMs ?? 500)
  }

  /** Samples recorded so far, per channel (including those not yet on disk). */
  get frames (): number {
    return (this.#dataBytes + this.#pendingBytes) / 2 / this.#channels
  }

  get durationMs (): number {
    return Math.round(this.frames * 1000 / this.#sampleRate)
  }

  /** Queue samples (copied: the caller may reuse its array); appended once ~flushMs are held. */
  write (samples: Int16Array): void {
    if (this.#done || this.#error !== undefined || samples.length === 0) return
    const bytes = Buffer.copyBytesFrom(samples)
    if (!LITTLE_ENDIAN) bytes.swap16()
    this.#pending.push(bytes)
    this.#pendingBytes += bytes.length
    if (this.#pendingBytes >= this.#flushBytes) this.#flush()
  }

  /** Resolves once every chunk appended so far has reached the file (held audio stays held). */
  async appended (): Promise<void> {
    await this.#writes
  }

  /** Append what is held, patch the header's sizes and close the file. */
  async close (): Promise<WrittenWav> {
    if (this.#done) throw new Error('wav writer already closed')
    this.#flush()
    this.#done = true
    await this.#writes
    try {
      if (this.#error !== undefined) throw this.#error
      await writeAll(this.#fh, wavHeader(this.#sampleRate, this.#channels, this.#dataBytes), 0)
    } finally {
      await this.#fh.close()
    }
    return { path: this.path, dataBytes: this.#dataBytes, durationMs: this.durationMs }
  }

  /** Stop and remove the file (an empty or failed recording). Never throws. */
  async discard (): Promise<void> {
    if (!this.#done) {
      this.#done = true
      this.#pending = []
      this.#pendingBytes = 0
      await this.#writes
      await this.#fh.close().catch(() => {})
    }
    await unlink(this.path).catch(() => {})
  }

  #flush (): void {
    if (this.#pendingBytes === 0) return
    const chunk = this.#pending.length === 1 ? this.#pending[0] as Buffer : Buffer.concat(this.#pending, this.#pendingBytes)
    const position = CANONICAL_HEADER_BYTES + this.#dataBytes
    this.#dataBytes += chunk.length
    this.#pending = []
    this.#pendingBytes = 0
    // Chained: chunks land in order, and a slow disk queues memory rather than blocking frames.
    this.#writes = this.#writes.then(async () => {
      if (this.#error === undefined) await writeAll(this.#fh, chunk, position)
    }).catch((err: unknown) => { this.#error ??= err })
  }
}

/** FileHandle.write may write less than asked; loop until the whole buffer is at `position`. */
async function writeAll (fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, position + off)
    if (bytesWritten <= 0) throw new Error('short write')
    off += bytesWritten
  }
}
