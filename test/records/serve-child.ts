import { spawn, type ChildProcess } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../../bin/phone-agent.js', import.meta.url))

export interface ServeChild {
  readonly child: ChildProcess
  readonly logs: Array<Record<string, unknown>>
  readonly exited: Promise<NodeJS.Signals | number | null>
  /** The outbound Event Socket port once listening; undefined when the process exited first. */
  readonly ready: Promise<number | undefined>
}

/** `phone-agent serve` as a child process (a crash test kills it with SIGKILL). */
export function serveChild (config: string): ServeChild {
  const child = spawn(process.execPath, [bin, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] })
  const logs: Array<Record<string, unknown>> = []
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => { resolve(signal ?? code) }))
  const ready = new Promise<number | undefined>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const rec = JSON.parse(line) as Record<string, unknown>
      logs.push(rec)
      if (rec.msg === 'outbound event socket listening') resolve(rec.port as number)
    })
    child.on('exit', () => { process.stderr.write(stderr); resolve(undefined) })
  })
  return { child, logs, exited, ready }
}

/** Polls (conditions on a real child process and real files, not timings). */
export async function until<T> (what: string, check: () => Promise<T | undefined> | T | undefined, limitMs = 60_000): Promise<T> {
  const deadline = Date.now() + limitMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A file under recordings/<day>/ whose name starts with `prefix` and ends with `suffix`. */
export async function findRecording (dir: string, prefix: string, suffix = '.wav'): Promise<string | undefined> {
  for (const day of await readdir(dir).catch(() => [])) {
    const hit = (await readdir(join(dir, day)).catch(() => [])).find((f) => f.startsWith(prefix) && f.endsWith(suffix))
    if (hit !== undefined) return join(dir, day, hit)
  }
  return undefined
}
