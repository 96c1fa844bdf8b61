/**
 * Faults benchmark (issue 15): what a caller hears when a provider fails, with the shipped
 * deadlines (agent.deadlines defaults: dead-air budget 1500 ms, two fillers, turn deadline 8 s).
 *
 *   node --import tsx bench/faults.ts
 *
 * For each fault of STT, the LLM and TTS (HTTP 500, 429, the provider's own timeout, no answer,
 * a stream that stalls, a malformed body), in both media modes, one simulated call: the longest
 * silence the caller heard from the end of their speech to the fallback, and what they heard.
 * The calls and their measure are test/faults/faults.ts (the same table the tests assert on,
 * there with small budgets). Writes its section of BENCHMARKS.md between `faults` markers.
 */
import { cpus } from 'node:os'
import { agentSchema } from '../lib/agent/config.ts'
import { CASES, FAULT_LABELS, harness, heardSummary, runFault, warmUp, type Budget, type FaultRun, type Mode } from '../test/faults/faults.ts'
import { spliceSection } from './sections.ts'

type Log = (line: string) => void

const defaults = agentSchema.parse({})
const BUDGET: Budget = {
  deadAirMs: defaults.deadlines.deadAirMs,
  turnMs: defaults.deadlines.turnMs,
  llmFirstTokenMs: defaults.deadlines.llmFirstTokenMs,
  ttsFirstAudioMs: defaults.deadlines.ttsFirstAudioMs,
  maxFillers: defaults.fillers.max,
}
const MODES: readonly Mode[] = ['files', 'stream']

export async function runFaultsBench (log: Log): Promise<FaultRun[]> {
  await warmUp({ files: BUDGET, stream: BUDGET })
  const runs: FaultRun[] = []
  for (const { role, fault } of CASES) {
    for (const mode of MODES) {
      const h = harness()
      try {
        const run = await runFault(h.t, role, fault, mode, BUDGET)
        log(`${mode} ${role} ${fault}: ${run.longestSilenceMs} ms, ${heardSummary(run)}`)
        runs.push(run)
      } finally {
        await h.close()
      }
    }
  }
  return runs
}

export function faultsSection (runs: readonly FaultRun[]): string {
  const cell = (run: FaultRun | undefined): string => run === undefined
    ? 'n/a | n/a'
    : `${Math.round(run.longestSilenceMs)} ms | ${heardSummary(run)}${run.call.errors[0] === undefined ? '' : ` (${run.call.errors[0].code})`}`
  const worst = Math.max(...runs.map((r) => r.longestSilenceMs))
  const fallbacks = runs.filter((r) => r.apology && r.transferredTo === '1000').length
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'
  return [
    '<!-- faults:begin -->',
    '## Faults (dead-air budget)',
    '',
    'Command: `node --import tsx bench/faults.ts`. One simulated call per row and media mode, one',
    'after another, in one process (server, simulator and provider fakes share the event loop).',
    `Machine: ${cpus().length} × ${cpu}, Node ${process.version}; measured on ${new Date().toISOString()}.`,
    `Settings: the shipped defaults, dead-air budget ${BUDGET.deadAirMs} ms, at most ${BUDGET.maxFillers} fillers,`,
    `turn deadline ${BUDGET.turnMs} ms, LLM first token ${BUDGET.llmFirstTokenMs} ms, TTS first audio ${BUDGET.ttsFirstAudioMs} ms;`,
    'the provider\'s own timeout 30 s (400 ms in the "own timeout" rows).',
    '',
    'The caller speaks once; the provider then fails. Longest silence: the longest stretch without',
    'audible audio from the end of their speech to the moment the call left the agent (the',
    'fallback transfer), from the simulator\'s record of every frame sent to the caller. Files',
    'mode includes the recorder\'s 1 s of end-of-speech silence, which no budget can undercut.',
    'Before the budget (issue 15): a recogniser that never answered left 20.5 s of silence, a silent',
    'LLM 5.55 s, an LLM stalling after its first word 8.06 s, a hung TTS 4.6 s.',
    '',
    '| provider | fault | files: longest silence | files: what the caller heard | stream: longest silence | stream: what the caller heard |',
    '|---|---|---|---|---|---|',
    ...CASES.map(({ role, fault }) => {
      const of = (mode: Mode): FaultRun | undefined => runs.find((r) => r.role === role && r.fault === fault && r.mode === mode)
      return `| ${role.toUpperCase()} | ${FAULT_LABELS[fault]} | ${cell(of('files'))} | ${cell(of('stream'))} |`
    }),
    '',
    `Longest silence over the table: ${Math.round(worst)} ms. ${fallbacks} of ${runs.length} calls ended in the apology`,
    'and the transfer to the human. A filler is the pre-rendered "Un attimo."; it never plays once',
    'the answer has started (an LLM stalling after a sentence ends in the apology at the budget).',
    '<!-- faults:end -->',
  ].join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { readFile, writeFile } = await import('node:fs/promises')
  const log: Log = (line) => { process.stderr.write(`bench: ${line}\n`) }
  const runs = await runFaultsBench(log)
  const file = new URL('../BENCHMARKS.md', import.meta.url)
  const doc = await readFile(file, 'utf8').catch(() => '# Benchmarks\n')
  await writeFile(file, spliceSection(doc, 'faults', faultsSection(runs)))
  log('section written to BENCHMARKS.md')
  process.stdout.write(`${faultsSection(runs)}\n`)
}
