/**
 * What scrubbing secrets out of every log line costs: µs per line with pino's field-name
 * redaction only, and with the pattern scrubber (lib/ops/scrub.ts) on top, for the lines a
 * call really writes. Writes its section of BENCHMARKS.md (between the logging markers).
 *
 * Run: node --import tsx bench/logging.ts            (a few seconds)
 *      node --import tsx bench/logging.ts --quick    (prints only, does not touch BENCHMARKS.md)
 */
import { readFile, writeFile } from 'node:fs/promises'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { createLogger, REDACT_CENSOR, REDACT_PATHS } from '../lib/ops/logger.ts'
import { SecretScrubber } from '../lib/ops/scrub.ts'
import { spliceSection } from './sections.ts'

const LINES = 50_000
const sink = (): Writable => new Writable({ write (_c, _e, cb) { cb() } })

type Shape = readonly [name: string, write: (log: pino.Logger) => void]
const err = new Error('provider failed: 401 Incorrect API key provided: sk-abcdefghijklmnopqrstuvwxyz012345')
const SHAPES: readonly Shape[] = [
  ['turn line (no secret)', (log) => { log.info({ turn: 3, sttMs: 412, llmFirstTokenMs: 380, text: 'I would like to book a table for two at eight' }, 'turn latency') }],
  ['error with stack (key inside)', (log) => { log.warn({ err, provider: 'openai' }, 'llm request failed') }],
]

function usPerLine (log: pino.Logger, write: Shape[1]): number {
  for (let i = 0; i < 2000; i++) write(log)
  // CPU time, not wall time: the machine is shared, and a line's cost is CPU.
  const start = process.cpuUsage()
  for (let i = 0; i < LINES; i++) write(log)
  const used = process.cpuUsage(start)
  return (used.user + used.system) / LINES
}

export async function benchLogging (quick: boolean): Promise<string> {
  const scrubber = new SecretScrubber()
  scrubber.addSecrets(['a-configured-secret-value', 'ClueCon-pa55'])
  const child = (log: pino.Logger): pino.Logger => log.child({ call: '3f2b8c1e-9a4d-4e7b-8c2a-1d2e3f4a5b6c', did: '+390212345678' })
  const before = child(pino({ level: 'info', redact: { paths: [...REDACT_PATHS], censor: REDACT_CENSOR }, base: { service: 'phone-agent' } }, sink()))
  const after = child(createLogger('info', sink() as unknown as pino.DestinationStream, scrubber))
  const rows = SHAPES.map(([name, write]) => {
    const b = usPerLine(before, write)
    const a = usPerLine(after, write)
    return `| ${name} | ${b.toFixed(2)} | ${a.toFixed(2)} | +${(a - b).toFixed(2)} |`
  })
  const table = [
    '| Line | µs/line, field-name redaction | µs/line, + pattern scrubbing | Cost |',
    '|---|---|---|---|',
    ...rows,
  ].join('\n')
  if (!quick) {
    const url = new URL('../BENCHMARKS.md', import.meta.url)
    const doc = await readFile(url, 'utf8').catch(() => '# Benchmarks\n')
    const section = `<!-- logging:begin (written by bench/logging.ts) -->\n## Log scrubbing\n\n` +
      `${LINES} lines per row, one child logger per call as the service writes them, to a sink that drops them.\n\n${table}\n<!-- logging:end -->`
    await writeFile(url, spliceSection(doc, 'logging', section))
  }
  return table
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${await benchLogging(process.argv.includes('--quick'))}\n`)
}
