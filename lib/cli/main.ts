import { readFileSync } from 'node:fs'
import { isPhoneAgentError } from '../errors.ts'
import { didYouMean } from '../suggest.ts'
import type { Command, CommandIo } from './command.ts'

/**
 * Every sub-command, in the order the help lists them, with its one-line summary. A command's
 * module is loaded only to run it (or show its own --help): `serve` and `call` load the whole
 * agent, about 2 CPU-seconds, which `--version`, `--help`, `init` or `calls` need not pay.
 */
const COMMANDS: Record<string, { readonly summary: string, readonly load: () => Promise<Command> }> = {
  init: { summary: 'Create a project folder for your own agent: config, a first script, types, next steps.', load: async () => (await import('./init.ts')).initCommand },
  check: { summary: 'Validate config, environment and scripts; show what a call to --did from --caller would do.', load: async () => (await import('./check.ts')).checkCommand },
  call: { summary: 'Place a simulated call (--say, --wav, --dtmf) and watch the transcript; no FreeSWITCH needed.', load: async () => (await import('./call-command.ts')).callCommand },
  demo: { summary: 'A simulated call to the built-in take-message script; no config or account needed.', load: async () => (await import('./call-command.ts')).demoCommand },
  serve: { summary: 'Run the Event Socket server FreeSWITCH connects to (--port, --host).', load: async () => (await import('./serve.ts')).serveCommand },
  calls: { summary: 'List call records (--since, --did, --outcome, --json, --csv); calls show UUID for one.', load: async () => (await import('./calls-command.ts')).callsCommand },
  doctor: { summary: 'Check the live FreeSWITCH (modules, dialplan, ACL, gateways, NAT, sounds, Event Socket).', load: async () => (await import('./doctor.ts')).doctorCommand },
}

function usage (): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2
  return `Usage: phone-agent <command> [options]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`).join('\n')}

Options:
  --config PATH   Config file (default: $PHONE_AGENT_CONFIG or ./phone-agent.yaml)
  --version       Print the version
  --help          This help; phone-agent <command> --help for a command's own

Docs: README.md and docs/ in the package (${packageRoot()}).
`
}

export function version (): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

function packageRoot (): string {
  return new URL('../../', import.meta.url).pathname.replace(/\/$/, '')
}

/**
 * Runs a command and resolves to its exit code: 0 done, 1 failed (config problems, a missing
 * file: one clean message, no stack trace), 2 usage.
 */
export async function main (argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr,
  env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Promise<number> {
  const io: CommandIo = { out, err, env, cwd }
  const [first, ...rest] = argv
  if (first === undefined) { err.write(usage()); return 2 }
  if (first === '--version' || first === '-v') { out.write(`${version()}\n`); return 0 }
  if (first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined
    const command = topic === undefined || !Object.hasOwn(COMMANDS, topic) ? undefined : await COMMANDS[topic]?.load()
    out.write(command?.usage ?? usage())
    return 0
  }
  // `--config PATH` may come before the command (`phone-agent --config x.yaml check`).
  if (first === '--config') return await main([...rest.slice(1), '--config', rest[0] ?? ''], out, err, env, cwd)
  const entry = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined
  if (entry === undefined) {
    err.write(`phone-agent: unknown command "${first}"${didYouMean(first, Object.keys(COMMANDS))}\n\n${usage()}`)
    return 2
  }
  try {
    const command = await entry.load()
    // Help never needs a config file.
    if (rest.includes('--help') || rest.includes('-h')) { out.write(command.usage); return 0 }
    return await command.run(rest, io)
  } catch (e) {
    return reportError(e, err, env)
  }
}

/** One readable line for anything thrown; the stack only when PHONE_AGENT_DEBUG is set. */
export function reportError (e: unknown, err: NodeJS.WritableStream, env: NodeJS.ProcessEnv): number {
  if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
    err.write(`phone-agent: ${(e as Error).message}\n`)
    return 2
  }
  const message = isPhoneAgentError(e) ? e.message : e instanceof Error ? e.message : String(e)
  err.write(`phone-agent: ${message}\n`)
  if (env.PHONE_AGENT_DEBUG !== undefined && e instanceof Error && e.stack !== undefined) err.write(`${e.stack}\n`)
  else if (!isPhoneAgentError(e)) err.write('(set PHONE_AGENT_DEBUG=1 for the stack trace)\n')
  return 1
}

