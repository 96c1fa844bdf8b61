import { PassThrough } from 'node:stream'
import { main } from '../../lib/cli/main.ts'

export interface CliRun { readonly code: number, readonly out: string, readonly err: string }

/**
 * Run `phone-agent ARGS` in process and collect what it printed. `env` is the whole environment
 * the command sees (PATH only unless given); `timeoutMs` bounds a command that should have
 * failed but started a server instead (code -1).
 */
export async function runCli (args: string[], options: { env?: NodeJS.ProcessEnv, cwd?: string, timeoutMs?: number } = {}): Promise<CliRun> {
  const out = new PassThrough()
  const err = new PassThrough()
  let o = ''
  let e = ''
  out.on('data', (d: Buffer) => { o += d.toString() })
  err.on('data', (d: Buffer) => { e += d.toString() })
  const running = main(args, out, err, { PATH: process.env.PATH, ...options.env }, options.cwd ?? process.cwd())
  let timer: NodeJS.Timeout | undefined
  const code = options.timeoutMs === undefined
    ? await running
    : await Promise.race([running, new Promise<number>((resolve) => { timer = setTimeout(() => { resolve(-1) }, options.timeoutMs) })])
  clearTimeout(timer)
  return { code, out: o, err: e }
}
