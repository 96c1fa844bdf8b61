import t from 'tap'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startPhoneAgent } from '../../lib/app.ts'
import { buildConfig } from '../../lib/config/load.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { captureLogs } from '../helpers/logs.ts'
import { toneSpeaker } from '../helpers/speaker.ts'
import { speechLike } from '../media-stream/signals.ts'
import { FakeOpenAiServer } from '../fakes/openai-server.ts'
import { runCli, type CliRun } from '../helpers/cli.ts'

// `phone-agent call` as a newcomer uses it: in-process server from a config, the offline voice.
// The calls are independent and mostly wait on simulated time: they run side by side, four at a
// time, inside one parent test (so the process's other specs still run one after another).

async function run (args: string[], env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): Promise<CliRun> {
  return await runCli(args, { env, cwd })
}

async function project (yaml: string, files: Record<string, string> = {}): Promise<{ dir: string, config: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'pa-call-'))
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
  await writeFile(join(dir, 'phone-agent.yaml'), `media: { soundsDir: ./sounds }\nrecords: { dataDir: ./data }\n${yaml}`)
  return { dir, config: join(dir, 'phone-agent.yaml') }
}

t.test('phone-agent call, side by side', { jobs: 4 }, async (t) => {
  t.test("a script's info logs show in the transcript; the simulated caller comes from the config's country", async (t) => {
    const { config } = await project('numbers: { defaultCountry: US }\nscripts:\n  hi: { module: ./hi.ts }\nroutes:\n  "+12015550123": { script: hi }\n', {
      'hi.ts': "import { defineScript } from 'phone-agent'\nexport default defineScript(async (call) => {\n  call.log.info({ step: 1 }, 'hello from the script')\n  await call.say('Hi.')\n  await call.hangup()\n})\n",
    })
    const r = await run(['call', '--config', config])
    t.equal(r.code, 0, r.err)
    t.match(r.out, /calling \+12015550123 from \+1201555\d{4}/, 'a US caller for a US config (admitted by its default allowlist)')
    t.match(r.out, /log {3}: hello from the script {2}step=1\n/, 'call.log.info is visible without PHONE_AGENT_LOG_LEVEL')
    t.match(r.out, /agent : Hi\./)
    t.notMatch(r.out, /"level":/, 'log lines are readable, not JSON')
  })

  t.test('--wav: the caller speaks once the agent is quiet, so the message is recorded', async (t) => {
    // Longer than --start-ms (2.5 s): a caller who did not wait would talk over it.
    const greeting = 'Hello, you have reached Rossi and partners. Please leave a message after the tone.'
    const { dir, config } = await project(`language: en-US\nroutes:\n  "+390212345678": { script: take-message, options: { greeting: "${greeting}", thanks: "Thanks.", noMessage: "Nothing heard." } }\n`)
    const wav = join(dir, 'caller.wav')
    await writeFile(wav, encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, 1.5, -18) }))
    const r = await run(['call', '--config', config, '--wav', wav])
    t.equal(r.code, 0, r.err)
    t.match(r.out, /caller: \[audio from .*caller\.wav\]/)
    t.match(r.out, /agent : Thanks\./, 'the caller was heard after the greeting, not talked over')
    t.match(r.out, /Outcome\s+message_taken/)
    const greetingAt = Number(/\[\s*([\d.]+) s\] agent : Hello, you have reached/.exec(r.out)?.[1])
    const callerAt = Number(/\[\s*([\d.]+) s\] caller: \[audio/.exec(r.out)?.[1])
    t.ok(callerAt > greetingAt, `the caller spoke (${callerAt} s) after the greeting ended (${greetingAt} s)`)
  })

  t.test('the first line waits for a late greeting, as a person would, past --start-ms', async (t) => {
    // Silent for 4 s (longer than --start-ms, 2.5 s), as an agent whose greeting is slow to come.
    const { config } = await project('scripts:\n  late: { module: ./late.ts }\nroutes:\n  "+390212345678": { script: late }\n', {
      'late.ts': "import { defineScript } from 'phone-agent'\nexport default defineScript(async (call) => {\n  await new Promise((resolve) => setTimeout(resolve, 4000))\n  await call.say('Hello, leave a message.')\n  await call.record({ maxSeconds: 10, silence: { seconds: 1 }, beep: false })\n  await call.hangup()\n})\n",
    })
    const r = await run(['call', '--config', config, '--say', 'This is Mario.'])
    t.equal(r.code, 0, r.err)
    const greetingAt = Number(/\[\s*([\d.]+) s\] agent : Hello, leave a message/.exec(r.out)?.[1])
    const callerAt = Number(/\[\s*([\d.]+) s\] caller: This is Mario/.exec(r.out)?.[1])
    t.ok(callerAt > greetingAt, `the caller spoke (${callerAt} s) after the greeting (${greetingAt} s)`)
    t.match(r.out, /Outcome\s+message_taken/, 'and the message was recorded')
  })

  t.test('a --wav file that is not there is one clean line, exit 1, no stack trace', async (t) => {
    const { config } = await project('routes:\n  "+390212345678": { script: take-message }\n')
    const r = await run(['call', '--config', config, '--wav', '/nonexistent/caller.wav'])
    t.equal(r.code, 1)
    t.equal(r.err, 'phone-agent: --wav /nonexistent/caller.wav: cannot read it (ENOENT)\n')
    t.notMatch(r.out, /calling/, 'no call was placed')
  })

  t.test('with speech-to-text on, each caller line is printed once', async (t) => {
    const fake = await FakeOpenAiServer.start()
    t.teardown(() => fake.close())
    fake.reply('/v1/audio/transcriptions', { kind: 'json', body: { text: 'Mario Rossi.' } })
    const { config } = await project(`speech:\n  stt: { provider: openai, openai: { baseUrl: "${fake.baseUrl}", model: whisper-1 } }\nscripts:\n  name: { module: ./name.ts }\nroutes:\n  "+390212345678": { script: name }\n`, {
      'name.ts': "import { defineScript } from 'phone-agent'\nexport default defineScript(async (call) => {\n  const r = await call.ask('Your name?')\n  call.log.info({ kind: r.kind }, 'asked')\n  await call.say('Thanks.')\n  await call.hangup()\n})\n",
    })
    const r = await run(['call', '--config', config, '--say', 'Mario Rossi'])
    t.equal(r.code, 0, r.err)
    t.match(r.out, /asked {2}kind=speech/, 'the recogniser heard the line')
    t.equal(r.out.match(/^\[[^\]]*\] \w+ *: .*Mario Rossi/gm)?.length, 1, 'one live line for it')
    t.notMatch(r.out, /heard : /, 'what STT heard is the line said: not repeated')
  })

  t.test('--server: no config file needed, and the agent side is shown', async (t) => {
    const soundsDir = await mkdtemp(join(tmpdir(), 'pa-remote-'))
    const config = buildConfig({
      server: { port: 0 },
      media: { soundsDir },
      routes: { '+390212345678': { script: 'take-message', options: { greeting: 'Leave a message after the tone.', thanks: 'Thanks.' } } },
    }, soundsDir)
    const agent = await startPhoneAgent(config, { logger: captureLogs().logger, speaker: toneSpeaker(soundsDir) })
    t.teardown(() => agent.stop(5000))
    const empty = await mkdtemp(join(tmpdir(), 'pa-noconfig-'))
    const r = await run(['call', '--server', `127.0.0.1:${agent.server.port}`, '--to', '0212345678', '--say', 'Hello'], {}, empty)
    t.equal(r.code, 0, r.err)
    t.match(r.out, /agent : \[speech, [\d.]+ s heard\]/, 'what the caller heard of the agent')
    t.match(r.out, /caller: Hello/)
    t.match(r.out, /no local config, so the server's record is not visible here: run `phone-agent calls show [0-9a-f-]{36}` where it runs/)
  })

  t.test('help for every command works without a config file; --version; usage errors exit 2', async (t) => {
    const empty = await mkdtemp(join(tmpdir(), 'pa-help-'))
    for (const command of ['init', 'check', 'call', 'demo', 'serve', 'calls', 'doctor']) {
      const r = await run([command, '--help'], {}, empty)
      t.equal(r.code, 0, `${command} --help: ${r.err}`)
      t.match(r.out, new RegExp(`^Usage:[\\s\\S]*phone-agent ${command}`), `${command} --help prints its usage`)
    }
    const v = await run(['--version'])
    t.equal(v.code, 0)
    t.match(v.out, /^\d+\.\d+\.\d+\n$/)
    t.equal((await run(['check', '--bogus'])).code, 2, 'unknown option')
    const typo = await run(['serv'])
    t.equal(typo.code, 2)
    t.match(typo.err, /unknown command "serv" \(did you mean "serve"\?\)/)
  })

  t.test('serve --port and --host override the config and are validated like it', async (t) => {
    const { config } = await project('routes:\n  "+390212345678": { script: take-message }\n')
    const host = await run(['serve', '--config', config, '--host', '0.0.0.0'])
    t.equal(host.code, 1)
    t.match(host.err, /config: server\.host: 0\.0\.0\.0 is not a loopback address/)
    const port = await run(['serve', '--config', config, '--port', '99999'])
    t.equal(port.code, 2)
    t.match(port.err, /--port 99999 is not a port number/)
  })
})
