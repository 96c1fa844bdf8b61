import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export { until } from '../records/serve-child.ts'

const bin = fileURLToPath(new URL('../../bin/phone-agent.js', import.meta.url))



/** `phone-agent serve` with worker processes, as a child process whose JSON log lines are kept. */
export interface ClusterChild {
  readonly child: ChildProcess
  readonly dir: string
  readonly config: string
  readonly logs: Array<Record<string, unknown>>
  readonly exited: Promise<number | null>
  /** The Event Socket port once every worker is ready; undefined when the service stopped first. */
  readonly ready: Promise<number | undefined>
  readonly opsUrl: string
}

/** A port nobody listens on right now (the ops server needs a fixed one: 0 is refused there). */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

export async function startCluster (lines: readonly string[], opsPort: number): Promise<ClusterChild> {
  const dir = await mkdtemp(join(tmpdir(), 'pa-cluster-'))
  const config = join(dir, 'phone-agent.yaml')
  await writeFile(config, [
    `ops: { http: { enabled: true, port: ${opsPort} }, shutdownDeadlineSeconds: 5 }`,
    'records: { dataDir: ./data }',
    // The classic VAD: Silero's model would load in every process for nothing these calls need.
    'media: { soundsDir: ./sounds, stream: { vad: { engine: classic } } }',
    'routes:',
    '  "+390212345678": { script: take-message, language: en-US, options: { greeting: "Leave a message.", thanks: "Thanks." } }',
    ...lines,
  ].join('\n'))
  const child = spawn(process.execPath, [bin, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code) }))
  const logs: Array<Record<string, unknown>> = []
  const ready = new Promise<number | undefined>((resolve) => {
    let port: number | undefined
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let rec: Record<string, unknown>
      try { rec = JSON.parse(line) as Record<string, unknown> } catch { return }
      logs.push(rec)
      if (rec.msg === 'outbound event socket listening') port = rec.port as number
      if (rec.msg === 'worker processes ready') resolve(port)
    })
    child.on('exit', () => { if (stderr !== '') process.stderr.write(stderr); resolve(undefined) })
  })
  return { child, dir, config, logs, exited, ready, opsUrl: `http://127.0.0.1:${opsPort}` }
}
