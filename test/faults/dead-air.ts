import t from 'tap'
import { CASES, FAULT_LABELS, heardSummary, runFault, warmUp, withLoopDelay, type Budget, type Mode } from './faults.ts'

/**
 * The fault table (issue 15): for every way STT, the LLM and TTS can fail (HTTP 500, 429, their
 * own timeout, no answer at all, a stream that stalls, a malformed body), in both media modes,
 * the caller never hears a silence longer than the dead-air budget from the end of their speech,
 * and the call ends in the apology and the fallback transfer to the human.
 *
 * Measured from the simulator's record of every frame sent to the caller. The margin over the
 * budget covers the 20 ms frame clocks on both sides and what a loaded test machine adds to
 * starting a file (timers, the playback round trip); before the dead-air budget a recogniser
 * that never answered left 20 s of silence.
 *
 * Budgets are small so the table runs fast. Files mode's is above its recorder's 1 s of
 * end-of-speech silence (switch_ivr_record_file's silence_hits), which no budget can undercut.
 */

const BUDGETS: Record<Mode, Budget> = {
  files: { deadAirMs: 1300, turnMs: 8000, llmFirstTokenMs: 20_000, ttsFirstAudioMs: 20_000, maxFillers: 2 },
  stream: { deadAirMs: 600, turnMs: 8000, llmFirstTokenMs: 20_000, ttsFirstAudioMs: 20_000, maxFillers: 2 },
}
const MARGIN_MS = 400

/**
 * One media mode's half of the table, in the process of the test file that calls it: the two
 * halves run as two test files, so their calls (which mostly wait on real time) overlap.
 */
export function deadAirTable (mode: Mode): void {
  t.jobs = 2
  t.before(async () => { await warmUp({ [mode]: BUDGETS[mode] }) })
  for (const { role, fault } of CASES) {
    t.test(`${mode} mode, ${role.toUpperCase()} ${FAULT_LABELS[fault]}`, async (t) => {
      const budget = BUDGETS[mode]
      const { value: run, loopLagMs } = await withLoopDelay(async () => await runFault(t, role, fault, mode, budget))
      t.ok(run.longestSilenceMs <= budget.deadAirMs + MARGIN_MS + loopLagMs,
        `longest silence ${run.longestSilenceMs} ms, budget ${budget.deadAirMs} ms (+${MARGIN_MS} ms, +${loopLagMs} ms this process's loop lag): ${heardSummary(run)}`)
      t.ok(run.apology, 'the caller heard the apology')
      t.equal(run.transferredTo, '1000', 'then the fallback: the human')
      t.equal(run.call.end?.outcome, 'transferred')
      t.ok(run.fillers <= budget.maxFillers, `at most ${budget.maxFillers} fillers (${run.fillers})`)
      t.match(run.call.errors, [{ code: /^PROVIDER_/ }], 'the failure is on the call record')
      if (fault === 'never') t.equal(run.fillers, budget.maxFillers, 'a wait that never ends is filled, then over')
      if (fault === 'stall-answer') {
        t.ok(run.answered, 'the first sentence of the answer was heard')
        t.ok(run.fillersAt.every((at) => at < (run.answerAt ?? 0)), 'no filler once the answer has started')
      }
    })
  }
}
