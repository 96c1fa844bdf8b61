// @ts-check
/**
 * Worker thread that runs flite.wasm under WASI, one job at a time.
 *
 * `wasi.start()` is synchronous: a long sentence would block the event loop that carries every
 * call's Event Socket traffic, so it runs here. This file is plain JavaScript on purpose: a
 * worker does not inherit a loader registered in code (tsx's `register()`), only one given on
 * the command line, and the TTS must work however the process was started.
 *
 * The parent owns everything on disk (it creates and removes the job directory, and reads the
 * output), so terminating this worker mid-job never leaves files behind.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { openSync, closeSync } from 'node:fs'
import { devNull } from 'node:os'
import { join } from 'node:path'

if (parentPort === null) throw new Error('offline-worker.mjs must run as a worker thread')
const port = parentPort

/** @type {WebAssembly.Module} */
const module = workerData.module

// Node flags WASI as experimental and prints that on every new worker. The worker exists only
// to run WASI, so the notice says nothing the operator can act on; other warnings still print.
const emitWarning = process.emitWarning.bind(process)
process.emitWarning = /** @type {typeof process.emitWarning} */ ((warning, ...rest) => {
  const text = typeof warning === 'string' ? warning : warning.message
  if (/WASI/.test(text)) return
  emitWarning(/** @type {any} */ (warning), .../** @type {any[]} */ (rest))
})
// Imported only now: loading node:wasi is what emits the notice.
const { WASI } = await import('node:wasi')

/**
 * @param {{ id: number, args: string[], hostDir: string, guestDir: string }} job
 */
function run (job) {
  /** @type {number[]} */
  const fds = []
  try {
    const stdin = openSync(devNull, 'r')
    fds.push(stdin)
    const log = openSync(join(job.hostDir, 'flite.log'), 'w')
    fds.push(log)
    const wasi = new WASI({
      version: 'preview1',
      args: job.args,
      env: {},
      // Only the job's private directory is visible to flite.
      preopens: { [job.guestDir]: job.hostDir },
      stdin,
      stdout: log,
      stderr: log,
      returnOnExit: true,
    })
    const instance = new WebAssembly.Instance(module, /** @type {any} */ (wasi.getImportObject()))
    const exitCode = wasi.start(instance)
    port.postMessage({ id: job.id, exitCode })
  } catch (err) {
    // A trap (out of memory, unreachable) kills only this instance; the next job gets a new one.
    port.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) })
  } finally {
    for (const fd of fds) closeSync(fd)
  }
}

port.on('message', run)
