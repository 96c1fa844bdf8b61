import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

/**
 * `perf record` of the server over one window (DIR/NAME.data, 997 Hz, call graphs), so a talk
 * window's profile can be set against a quiet one's by function (bench/perf-split.ts). The server
 * must run with `--perf-basic-prof-only-functions` (`perfServerArgs`), which names its JIT code in
 * /tmp/perf-PID.map. `pids`: the server and its worker processes, every thread of each.
 * Returns the stop, or undefined without a directory.
 */
export function startPerf (dir: string | undefined, pids: readonly number[], name: string): (() => Promise<void>) | undefined {
  if (dir === undefined) return undefined
  const child: ChildProcess = spawn('perf', ['record', '-q', '-F', '997', '-g', '-p', pids.join(','), '-o', join(dir, `${name}.data`)], { stdio: 'ignore' })
  let failed = false
  child.on('error', (err) => { failed = true; console.error(`perf record: ${err.message}`) })
  return async () => {
    if (failed || child.exitCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGINT')
    await exited
  }
}

/** With a perf directory, have the load server (bench/load-children.ts) name its JIT code for perf; returns the directory. */
export function perfServerArgs (dir: string | undefined): string | undefined {
  if (dir !== undefined) {
    // perf record writes nothing (and says nothing: -q) into a directory that is not there.
    mkdirSync(dir, { recursive: true })
    process.env.LOAD_SERVER_NODE_ARGS = `${process.env.LOAD_SERVER_NODE_ARGS ?? ''} --perf-basic-prof-only-functions`
  }
  return dir
}
