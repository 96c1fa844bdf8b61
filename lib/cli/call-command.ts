import { access } from 'node:fs/promises'
import { buildConfig, configPath, type Config } from '../config/load.ts'
import type { ConfigProblem } from '../config/problems.ts'
import { openCallStore } from '../records/open.ts'
import type { CallStore } from '../records/types.ts'
import { CALL_USAGE, runCallCommand } from './call.ts'
import { parseCommandArgs, printWarnings, type Command, type CommandIo } from './command.ts'
import { transcriptLogger } from './log-output.ts'
import { loadAndValidate, validateConfig } from './validate.ts'

export const callCommand: Command = {
  usage: CALL_USAGE,
  async run (argv, io) {
    const configArg = parseCommandArgs(argv, {
      to: { type: 'string' }, from: { type: 'string' }, name: { type: 'string' },
      say: { type: 'string', multiple: true }, wav: { type: 'string', multiple: true }, 'start-ms': { type: 'string' },
      dtmf: { type: 'string' }, 'hangup-at': { type: 'string' }, server: { type: 'string' }, out: { type: 'string' }, config: { type: 'string' },
    }).values
    const remote = configArg.server !== undefined
    const path = configPath(configArg.config, io.env, io.cwd)
    // Calling a running server needs no config of ours: only to read its records, if they are here.
    if (remote && configArg.config === undefined && io.env.PHONE_AGENT_CONFIG === undefined && !await exists(path)) {
      if (configArg.to === undefined) { io.err.write('phone-agent: call --server without a config file needs --to NUMBER\n'); return 2 }
      return await place(buildConfig({}, io.cwd), [], argv, io, false)
    }
    const { config, warnings } = await loadAndValidate(configArg.config, { env: io.env, cwd: io.cwd, simulated: true })
    return await place(config, warnings, argv, io, true)
  },
}

export const DEMO_USAGE = `Usage: phone-agent demo [call options]

A simulated call to the built-in take-message script with the offline voice: no config file, no
account, no FreeSWITCH. Writes demo-call.wav (caller left, agent right) and data/calls.db in the
current directory. Accepts the options of phone-agent call: --say or --wav replace the caller's
words, --out the file name, and so on.
`

export const demoCommand: Command = {
  usage: DEMO_USAGE,
  async run (argv, io) {
    const config = buildConfig({
      language: 'en-US',
      routes: { '+390212345678': { script: 'take-message', options: { maxSeconds: 30 } } },
      media: { soundsDir: 'sounds' },
      records: { dataDir: 'data' },
      // Info, so the script's own log line ("message recorded") shows in the transcript.
      logging: { level: 'info' },
    }, io.cwd)
    const { warnings } = await validateConfig(config, { env: io.env, typecheck: false, simulated: true })
    io.out.write('Demo: a caller leaves a message with the built-in take-message script (offline voice, simulated FreeSWITCH).\n\n')
    // The caller's words can be given (`demo --say "..."`); these are the default.
    const words = argv.includes('--say') || argv.includes('--wav')
      ? []
      : ['--say', 'Hello, this is Mario Rossi from Rossi Plumbing. Please call me back about the invoice. My number is three three three, one two three, four five six seven. Thank you.']
    return await place(config, warnings, ['--to', '+390212345678', '--from', '+393331234567', '--name', 'Mario Rossi',
      ...words, '--out', 'demo-call.wav', ...argv], io, true)
  },
}

async function place (config: Config, warnings: readonly ConfigProblem[], argv: readonly string[], io: CommandIo, records: boolean): Promise<number> {
  printWarnings(io.out, warnings)
  // Until the call's clock starts, log lines go out unstamped.
  let print = (line: string): void => { io.out.write(`${line}\n`) }
  const logger = transcriptLogger(config.logging.level, (line) => { print(line) }, io.env)
  const store: CallStore | undefined = records
    ? await openCallStore(config.records, { logger, configDir: config.configDir, env: io.env })
    : undefined
  try {
    return await runCallCommand(withoutConfig(argv), { config, logger, out: io.out, store, cwd: io.cwd, onPrinter: (p) => { print = p } })
  } finally {
    await store?.close()
  }
}

/** `--config PATH` has been used; the call runner does not take it. */
function withoutConfig (argv: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--config') { i++; continue }
    if (argv[i]?.startsWith('--config=') === true) continue
    out.push(argv[i]!)
  }
  return out
}

async function exists (path: string): Promise<boolean> {
  return await access(path).then(() => true, () => false)
}
