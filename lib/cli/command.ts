import { parseArgs, type ParseArgsConfig } from 'node:util'

/** What every sub-command gets: where to write, the environment, the working directory. */
export interface CommandIo {
  readonly out: NodeJS.WritableStream
  readonly err: NodeJS.WritableStream
  readonly env: NodeJS.ProcessEnv
  readonly cwd: string
}

export interface Command {
  /** The command's own `--help`, shown without reading any config. */
  readonly usage: string
  /** Resolves to the exit code; a thrown error becomes one line on stderr (see main.ts). */
  run (argv: readonly string[], io: CommandIo): Promise<number>
}

type Options = NonNullable<ParseArgsConfig['options']>

/** Strict option parsing: an unknown option is a usage error (exit 2), not silently ignored. */
export function parseCommandArgs<O extends Options> (argv: readonly string[], options: O, allowPositionals = false) {
  return parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true })
}

/** A config problem list is printed by main.ts; warnings are printed here, one per line. */
export function printWarnings (out: NodeJS.WritableStream, warnings: ReadonlyArray<{ field: string, message: string }>): void {
  for (const w of warnings) out.write(`warning: ${w.field}: ${w.message}\n`)
}
