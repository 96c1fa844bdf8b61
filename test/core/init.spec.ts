import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runCli, type CliRun } from '../helpers/cli.ts'

// From a clone to your own agent: `phone-agent init DIR`, install, and a call works there at
// once. The project depends on this clone by path (`file:`); npm would only link it, so the
// test links node_modules itself (no network): phone-agent -> the clone, and the clone's
// TypeScript and Node types for `npm run typecheck`.

const root = fileURLToPath(new URL('../../', import.meta.url))

/**
 * Run as from a user's shell. `env -i` because tap instruments the node processes a test starts
 * (it adds its loaders to their environment), and typescript's bin cannot be loaded that way.
 */
function exec (cmd: string, args: string[], cwd: string): Promise<{ code: number | null, out: string, err: string }> {
  return new Promise((resolve) => {
    const env = [`PATH=${process.env.PATH ?? ''}`, `HOME=${process.env.HOME ?? ''}`]
    const child = spawn('/usr/bin/env', ['-i', ...env, cmd, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.on('exit', (code) => { resolve({ code, out, err }) })
  })
}

async function init (args: string[], cwd: string): Promise<CliRun> {
  return await runCli(['init', ...args], { cwd })
}

t.test('init builds a project where the example script type-checks, checks and answers a call', async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'pa-init-'))
  const r = await init(['my-agent', '--country', 'US'], parent)
  t.equal(r.code, 0, r.err)
  t.match(r.out, /cd my-agent\n\s+npm install\n\s+npx phone-agent call --say/)
  const dir = join(parent, 'my-agent')

  const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, string>>
  t.match(pkg.dependencies?.['phone-agent'], /^file:/, 'depends on the clone by path until the package is published')
  t.equal(pkg.scripts?.typecheck, 'tsc --noEmit -p .')
  t.same(pkg.allowScripts, JSON.parse(await readFile(join(root, 'package.json'), 'utf8')).allowScripts)
  const yaml = await readFile(join(dir, 'phone-agent.yaml'), 'utf8')
  t.match(yaml, /defaultCountry: US/)
  t.match(yaml, /allowPrefixes: \["\+1"\]/, 'the caller allowlist and its default are shown')
  t.match(yaml, /"\+1201555\d{4}":/, 'an example US number is routed')

  // What `npm install` does with a file: dependency, and the two dev dependencies.
  await mkdir(join(dir, 'node_modules', '.bin'), { recursive: true })
  await mkdir(join(dir, 'node_modules', '@types'), { recursive: true })
  await symlink(root, join(dir, 'node_modules', 'phone-agent'))
  await symlink(join(root, 'node_modules', 'typescript'), join(dir, 'node_modules', 'typescript'))
  await symlink(join(root, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'))
  await symlink(join(root, 'node_modules', 'undici-types'), join(dir, 'node_modules', 'undici-types')).catch(() => {})
  const bin = join(dir, 'node_modules', 'phone-agent', 'bin', 'phone-agent.js')
  // Run as npm runs it: the .bin link, through its shebang.
  await symlink('../typescript/bin/tsc', join(dir, 'node_modules', '.bin', 'tsc'))
  const tsc = join(dir, 'node_modules', '.bin', 'tsc')

  // Side by side (the call mostly waits on simulated time). The call goes through the real
  // binary as the README has it; `check` runs in this process (a second binary's start-up only
  // cost the suite 2-3 CPU-seconds) and type-checks the project's script all the same.
  const [typecheck, check, call] = await Promise.all([
    exec(tsc, ['--noEmit', '-p', '.'], dir),
    runCli(['check'], { cwd: dir }),
    exec(process.execPath, [bin, 'call', '--say', 'Hello, I would like to leave a message.'], dir),
  ])
  t.equal(typecheck.code, 0, `npm run typecheck passes: ${typecheck.out}${typecheck.err}`)
  t.ok(existsSync(join(dir, 'node_modules', '.cache', 'phone-agent', 'typecheck.tsbuildinfo')), 'what it checked is kept for the next run (incremental), out of the project\'s own files')
  t.equal(check.code, 0, check.err)
  t.match(check.out, /config OK/)
  t.match(check.out, /\+1201555\d{4} -> \+1201555\d{4}: script hello/)

  t.equal(call.code, 0, call.err)
  t.match(call.out, /agent : Hello, you have reached Example Company/, 'the example script answered')
  t.match(call.out, /log {3}: new call/, "the script's own log line")
  t.match(call.out, /log {3}: message left {2}seconds=\d+/)
  t.match(call.out, /Outcome\s+message_taken/, 'the message is filed with the call record')

  // A typo in the script: the type-checker and check both say where.
  const script = join(dir, 'scripts', 'hello.ts')
  await writeFile(script, (await readFile(script, 'utf8')).replace('await call.answer()', 'await call.anwser()'))
  const [typo, checkTypo] = await Promise.all([exec(tsc, ['--noEmit', '-p', '.'], dir), runCli(['check'], { cwd: dir })])
  t.not(typo.code, 0)
  t.match(typo.out, /scripts\/hello\.ts\(\d+,\d+\): error TS2551: Property 'anwser' does not exist on type 'Call'\. Did you mean 'answer'\?/)
  t.equal(checkTypo.code, 1)
  t.match(checkTypo.err, /scripts\.hello\.module: type error at scripts\/hello\.ts:\d+:\d+: Property 'anwser' does not exist on type 'Call'/)
})

t.test('init refuses to overwrite a project unless --force', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-init-'))
  await writeFile(join(dir, 'phone-agent.yaml'), 'routes: {}\n')
  const r = await init(['.'], dir)
  t.equal(r.code, 1)
  t.match(r.err, /already has phone-agent\.yaml; use --force to overwrite/)
  t.equal(await readFile(join(dir, 'phone-agent.yaml'), 'utf8'), 'routes: {}\n', 'untouched')
  const forced = await init(['.', '--force', '--country', 'it'], dir)
  t.equal(forced.code, 0, forced.err)
  t.match(await readFile(join(dir, 'phone-agent.yaml'), 'utf8'), /defaultCountry: IT/)
  const bad = await init(['x', '--country', 'XX'], dir)
  t.equal(bad.code, 1)
  t.match(bad.err, /--country XX is not a country code/)
})
