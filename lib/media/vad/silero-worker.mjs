// @ts-check
/**
 * Worker thread that runs the Silero VAD session (silero-model.ts, `WorkerSileroModel`).
 *
 * onnxruntime-node runs a session synchronously on the thread that calls it: at a few hundred
 * speaking callers one batched inference takes longer than a 20 ms frame, and on the main thread
 * that would hold up every call's media and Event Socket traffic. Here it blocks only this
 * thread. Plain JavaScript on purpose, like offline-worker.mjs: a worker does not inherit a
 * loader registered in code (tsx's `register()`).
 *
 * Messages in:  { type: 'run', id, input, state, batch, width, rate, names }
 * Messages out: { type: 'ready', inputs, outputs } | { type: 'failed', message }
 *               { type: 'result', id, probs, state } | { type: 'error', id, message }
 */
import { parentPort, workerData } from 'node:worker_threads'
import { createRequire } from 'node:module'

if (parentPort === null) throw new Error('silero-worker.mjs must run as a worker thread')
const port = parentPort
const require = createRequire(import.meta.url)

/** @type {any} */
let ort
/** @type {any} */
let session
try {
  ort = require('onnxruntime-node')
  session = await ort.InferenceSession.create(workerData.path, workerData.options)
  port.postMessage({ type: 'ready', inputs: session.inputMetadata, outputs: session.outputMetadata, runtime: ort.env?.versions?.node })
} catch (err) {
  port.postMessage({ type: 'failed', message: String(/** @type {Error} */ (err)?.message ?? err).split('\n')[0] })
}

/** @type {Map<number, any>} */
const srTensors = new Map()

port.on('message', async (m) => {
  if (m?.type !== 'run' || session === undefined) return
  try {
    let sr = srTensors.get(m.rate)
    if (sr === undefined) srTensors.set(m.rate, sr = new ort.Tensor('int64', BigInt64Array.of(BigInt(m.rate)), []))
    const out = await session.run({
      [m.names.input]: new ort.Tensor('float32', m.input, [m.batch, m.width]),
      [m.names.state]: new ort.Tensor('float32', m.state, [2, m.batch, 128]),
      [m.names.sr]: sr,
    })
    // Copies: the runtime's output buffers may not be transferable; these are a few KB.
    const probs = Float32Array.from(out[m.names.output].data)
    const state = Float32Array.from(out[m.names.stateOut].data)
    port.postMessage({ type: 'result', id: m.id, probs, state }, [probs.buffer, state.buffer])
  } catch (err) {
    port.postMessage({ type: 'error', id: m.id, message: String(/** @type {Error} */ (err)?.message ?? err).split('\n')[0] })
  }
})
