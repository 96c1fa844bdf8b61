import t from 'tap'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli, type CliRun } from '../helpers/cli.ts'

async function run (args: string[]): Promise<CliRun> {
  return await runCli(args, { env: process.env })
}

t.test('check validates the example config and explains a DID', async (t) => {
  const example = new URL('../../phone-agent.example.yaml', import.meta.url).pathname
  const all = await run(['check', '--config', example])
  t.equal(all.code, 0, all.err)
  t.match(all.out, /config OK/)
  t.match(all.out, /^VAD: (Silero v5 \(|classic detector)/m, 'which voice-activity detector would run')
  t.match(all.out, /^media sockets: (one shared batched socket per process|one per call, not the shared one \(media\.stream\.sockets\): )/m, 'which media sockets stream mode would use')
  t.match(all.out, /\+390212345678 -> \+390212345678: script take-message/)
  const one = await run(['check', '--config', example, '--did', '0212345678'])
  t.match(one.out, /0212345678 -> \+390212345678: script take-message, language it-IT/)
  const unknown = await run(['check', '--config', example, '--did', '0299999999'])
  t.match(unknown.out, /rejected with UNALLOCATED_NUMBER \(no_route\)/)
})

t.test('a wrong config fails naming the field, exit code 1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-cli-'))
  const path = join(dir, 'bad.yaml')
  await writeFile(path, 'routes:\n  "+390212345678":\n    script: tak-message\n')
  const r = await run(['check', '--config', path])
  t.equal(r.code, 1)
  t.match(r.err, /routes\.\+390212345678\.script: unknown script "tak-message"/)
})

t.test('a script that does not export defineScript fails at check time', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-cli-'))
  await writeFile(join(dir, 'bad-script.ts'), 'export default async function () {}\n')
  const path = join(dir, 'c.yaml')
  await writeFile(path, 'scripts:\n  bad:\n    module: ./bad-script.ts\nroutes:\n  "+390212345678":\n    script: bad\n')
  const r = await run(['check', '--config', path])
  t.equal(r.code, 1)
  t.match(r.err, /must export default defineScript/)
})

t.test('usage errors exit 2', async (t) => {
  t.equal((await run([])).code, 2)
  t.equal((await run(['--bogus'])).code, 2)
  t.equal((await run(['--help'])).code, 0)
})

t.test('check --did --caller shows the guard decision and the rule that refuses', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-cli-'))
  const path = join(dir, 'c.yaml')
  await writeFile(path, 'numbers: { defaultCountry: US }\nroutes:\n  "+12015550123": { script: take-message }\n')
  const us = await run(['check', '--config', path, '--did', '2015550123', '--caller', '(201) 555-0199'])
  t.equal(us.code, 0, us.err)
  t.match(us.out, /callers admitted from: \+1 \(guard\.callers\.allowPrefixes, the default for numbers\.defaultCountry US\)/)
  t.match(us.out, /2015550123 -> \+12015550123: script take-message/)
  t.match(us.out, /caller \(201\) 555-0199 -> admitted as \+12015550199/)
  const it = await run(['check', '--config', path, '--did', '2015550123', '--caller', '+393331234567'])
  t.match(it.out, /caller \+393331234567 -> refused before answering: prefix_not_allowed; rule guard\.callers\.allowPrefixes: \+1; hangup cause CALL_REJECTED/)
})

t.test('the example config shows the caller allowlist and its default', async (t) => {
  const { readFile } = await import('node:fs/promises')
  const example = await readFile(new URL('../../phone-agent.example.yaml', import.meta.url), 'utf8')
  t.match(example, /allowPrefixes/)
  t.match(example, /defaultCountry/)
})

t.test('--version and --help load no command: main.ts imports each command module only to run it', async (t) => {
  // `serve` and `call` pull in the whole agent (~2 CPU-seconds); a static import in main.ts
  // would make `phone-agent --version` pay for it again.
  const source = await readFile(new URL('../../lib/cli/main.ts', import.meta.url), 'utf8')
  const staticImports = [...source.matchAll(/^import\s[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1])
  for (const command of ['./init.ts', './check.ts', './call-command.ts', './serve.ts', './calls-command.ts', './doctor.ts']) {
    t.notOk(staticImports.includes(command), `${command} is not imported statically`)
    t.ok(source.includes(`import('${command}')`), `${command} is loaded on demand`)
  }
  const help = await runCli(['--help'])
  t.match(help.out, /serve\s+Run the Event Socket server/, 'the summaries are still listed')
  const serveHelp = await runCli(['serve', '--help'])
  t.match(serveHelp.out, /Usage: phone-agent serve/, "and a command's own help loads it")
})
