import t from 'tap'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { runCli, type CliRun } from '../helpers/cli.ts'

// One validation path: what would make `serve` fail at start-up, or fail every call, fails in
// `check` first, with the same message, every problem listed. Each case here passed `check`
// (and often `serve`) before.

async function run (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  // A config that wrongly passed would start a server: bound in time, so the test fails instead of hanging.
  return await runCli(args, { env, timeoutMs: 60_000 })
}

async function configFile (yaml: string, files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pa-validate-'))
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
  const path = join(dir, 'phone-agent.yaml')
  await writeFile(path, yaml)
  return path
}

const ROUTE = 'routes:\n  "+390212345678": { script: take-message }\n'

const cases: Array<{ name: string, yaml: string, files?: Record<string, string>, expect: RegExp[] }> = [
  {
    name: 'a receptionist route with no speech providers',
    yaml: 'routes:\n  "+390212345678": { script: receptionist }\n',
    expect: [/routes\.\+390212345678\.script: script "receptionist" needs a speech-to-text provider \(speech\.stt\.provider\) and a language model \(speech\.llm\.provider\)/],
  },
  {
    name: 'a provider key variable that is not set',
    yaml: `${ROUTE}speech:\n  llm: { provider: openai, openai: { apiKeyEnv: PA_TEST_UNSET_KEY } }\n`,
    expect: [/speech\.llm\.openai\.apiKeyEnv: environment variable PA_TEST_UNSET_KEY is not set/],
  },
  {
    name: 'a contacts file that does not exist',
    yaml: `${ROUTE}agent:\n  contacts: { file: missing.csv }\n`,
    expect: [/agent\.contacts\.file: contacts file .*missing\.csv: cannot read: ENOENT/],
  },
  {
    name: 'an espeakPath that does not run',
    yaml: `${ROUTE}speech:\n  tts: { offline: { espeakPath: /nonexistent/espeak-ng } }\n`,
    expect: [/speech\.tts\.offline\.espeakPath: cannot run espeak-ng there/],
  },
  {
    name: 'an empty config',
    yaml: '',
    expect: [/routes: no routes and no defaultRoute: every call would be refused/],
  },
  {
    name: 'three schema problems, all listed and counted',
    yaml: `${ROUTE}server: { port: x }\nlanguage: italian\nunknownDid: { hangupCause: NORMAL_CLEARNG }\n`,
    expect: [/config: 3 problems:/, /\n {2}server\.port: /, /\n {2}language: expected a language tag/, /\n {2}unknownDid\.hangupCause: "NORMAL_CLEARNG" is not allowed \(did you mean "NORMAL_CLEARING"\?\)/],
  },
  {
    name: 'three problems found outside the schema, all listed and counted',
    yaml: `${ROUTE}speech:\n  stt: { provider: openai, openai: { apiKeyEnv: PA_TEST_UNSET_KEY } }\n  tts: { offline: { voice: kall } }\nagent:\n  contacts: { file: missing.csv }\n`,
    expect: [/config: 3 problems:/, /speech\.stt\.openai\.apiKeyEnv/, /speech\.tts\.offline\.voice: unknown flite voice "kall" \(did you mean "kal"\?\)/, /agent\.contacts\.file/],
  },
  {
    name: 'a misspelt key',
    yaml: `${ROUTE}logging: { levl: debug }\n`,
    expect: [/logging\.levl: unknown key \(did you mean "level"\?\); allowed here: level/],
  },
  {
    name: 'a misspelt script and transfer target',
    yaml: 'routes:\n  "+390212345678": { script: tak-message }\ntransfers:\n  reception: { type: extension, extension: "1000" }\nagent:\n  transfers: { human: recepton }\n',
    expect: [/config: 2 problems:/, /routes\.\+390212345678\.script: unknown script "tak-message" \(did you mean "take-message"\?\)/,
      /agent\.transfers\.human: unknown transfer target "recepton" \(did you mean "reception"\?\); configured: reception/],
  },
  {
    name: 'a script with a type error',
    yaml: 'scripts:\n  mine: { module: ./mine.ts }\nroutes:\n  "+390212345678": { script: mine }\n',
    files: { 'mine.ts': "import { defineScript } from 'phone-agent'\nexport default defineScript(async (call) => {\n  await call.sya('hello')\n})\n" },
    expect: [/scripts\.mine\.module: type error at mine\.ts:3:14: Property 'sya' does not exist on type 'Call'/],
  },
  {
    name: 'a script that converses, with no providers',
    yaml: 'scripts:\n  bot: { module: ./bot.ts }\nroutes:\n  "+390212345678": { script: bot }\n',
    files: { 'bot.ts': "import { defineScript } from 'phone-agent'\nexport default defineScript(async (call) => {\n  await call.converse({ instructions: 'Take pizza orders.' })\n})\n" },
    expect: [/routes\.\+390212345678\.script: script "bot" needs a speech-to-text provider .* and a language model/],
  },
]

for (const c of cases) {
  t.test(`check, serve and call refuse ${c.name} with the same message`, async (t) => {
    const path = await configFile(c.yaml, c.files)
    // Three independent validations of the same file, side by side.
    const [check, serve, call] = await Promise.all([run(['check', '--config', path]), run(['serve', '--config', path]), run(['call', '--config', path])])
    t.equal(check.code, 1, 'check fails')
    t.notMatch(check.out, /config OK/)
    for (const re of c.expect) t.match(check.err, re)
    t.equal(serve.code, 1, 'serve fails at start-up')
    t.equal(serve.err, check.err, 'with the same message')
    t.equal(call.code, 1, 'call fails before placing a call')
    t.equal(call.err, check.err, 'with the same message')
  })
}

t.test('a script kept outside this package loads, imports phone-agent by name, and type-checks', async (t) => {
  const path = await configFile('scripts:\n  mine: { module: ./mine.ts }\nroutes:\n  "+390212345678": { script: mine }\n', {
    // No package.json and no node_modules next to it: a folder such as /etc/phone-agent/scripts.
    'mine.ts': "import { defineScript } from 'phone-agent'\nexport default defineScript(async (call) => {\n  call.log.info('hello')\n  await call.hangup()\n})\n",
  })
  // The real binary, through tsx as a user runs it: this process loads TypeScript with the
  // tests' own loader (test/helpers/ts-loader), which would hide what tsx does with a `.ts` file
  // that has no package.json (it took it for CommonJS: lib/call/script-hooks.mjs).
  const bin = fileURLToPath(new URL('../../bin/phone-agent.js', import.meta.url))
  const r = await new Promise<CliRun>((resolve) => {
    execFile(process.execPath, [bin, 'check', '--config', path], { env: { PATH: process.env.PATH }, timeout: 60_000 }, (err, out, errOut) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, out, err: errOut })
    })
  })
  t.equal(r.code, 0, r.err)
  t.match(r.out, /config OK/)
  t.notMatch(r.out, /not type-checked/)
})

t.test('warnings do not fail check: a language the offline voice cannot speak', async (t) => {
  const path = await configFile('language: xx-XX\nroutes:\n  "+390212345678": { script: take-message }\n')
  const r = await run(['check', '--config', path], { PATH: '/nonexistent' })
  t.equal(r.code, 0, r.err)
  t.match(r.out, /warning: language: xx-XX: (the offline voice speaks English only|espeak-ng has no voice for it)/)
})
