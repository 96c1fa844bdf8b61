/**
 * The benches' own C programs (bench/native/*.c: the load bench's media generator, the speed
 * probe), built with the machine's compiler once per source version: the binary's name carries
 * the source's hash. Never shipped in the package.
 */
import { execFile, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readFile, rename, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Under node_modules, so git ignores it and `npm pack` never ships it. */
const CACHE = fileURLToPath(new URL('../node_modules/.cache/phone-agent-bench/', import.meta.url))

/** `cc -O2` of bench/native/NAME.c (and `flags`); undefined when there is no C compiler. */
export async function buildNative (name: string, flags: readonly string[] = []): Promise<string | undefined> {
  const source = fileURLToPath(new URL(`./native/${name}.c`, import.meta.url))
  const text = await readFile(source)
  const out = join(CACHE, `${name}-${createHash('sha256').update(text).update(flags.join(' ')).digest('hex').slice(0, 12)}`)
  if (await stat(out).then(() => true, () => false)) return out
  await mkdir(CACHE, { recursive: true })
  const tmp = `${out}.${process.pid}.tmp`
  const built = await new Promise<boolean>((resolve, reject) => {
    execFile('cc', ['-O2', '-Wall', ...flags, '-o', tmp, source], (err, _stdout, stderr) => {
      if (err === null) { resolve(true); return }
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') { resolve(false); return }
      reject(new Error(`cc failed to build ${source}: ${stderr}`))
    })
  })
  if (!built) return undefined
  await rename(tmp, out)
  return out
}

/** Stop one of these programs: each exits when its stdin closes; killed if it has not within 2 s. */
export async function closeNative (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.stdin?.end()
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 2000)
  await exited
  clearTimeout(timer)
}
