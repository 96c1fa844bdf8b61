import t from 'tap'
import { buildVoices, scenarios } from '../../bench/echo-set.ts'
import { onDtmf, scoreAgainst, summarise, summariseReference } from '../../bench/echo-score.ts'
import { ReferenceEchoGuard } from './echo-reference.ts'

/**
 * The labelled echo set (bench/echo-set.ts), quick version: flite voices at 8 kHz through the
 * simulator's line echo, with line noise, DTMF, a stall in our sending and real barge-ins.
 * bench/echo.ts runs the full set and reports the numbers; this keeps them from regressing.
 * Each scenario also goes through the frozen copy of the guard from before it looked at a known
 * line sparsely (echo-reference.ts): today's must be as good on the set.
 */

const voices = await buildVoices({ quick: true })
const scores = scenarios(voices, { quick: true }).map((s) => scoreAgainst(s, () => new ReferenceEchoGuard({ rate: 8000 })))
const echoAlone = scores.filter((s) => s.scenario.caller === undefined)

t.test('echo alone: the VAD starts on it, never through the guard', async (t) => {
  t.ok(echoAlone.length >= 8, `${echoAlone.length} scenarios`)
  const plain = echoAlone.reduce((n, s) => n + s.vad.falsePauses.length, 0)
  t.ok(plain >= echoAlone.length, `the VAD alone pauses the agent ${plain} times`)
  for (const s of echoAlone) {
    const falseStarts = s.guarded.falsePauses.filter((at) => !onDtmf(s.scenario, at))
    t.same(falseStarts, [], `${s.scenario.name}: no false pause (line: ${s.line.state}${s.line.delayMs === undefined ? '' : ` at ${s.line.delayMs} ms`})`)
    t.same(s.guarded.falseBargeIns.filter((at) => !onDtmf(s.scenario, at)), [], `${s.scenario.name}: no false barge-in`)
  }
})

t.test('real barge-ins are kept', async (t) => {
  const summary = summarise(scores)
  t.ok(summary.detectable >= 6, `${summary.detectable} barge-ins the VAD finds without echo`)
  t.ok(summary.kept >= Math.ceil(0.95 * summary.detectable), `${summary.kept} of ${summary.detectable} kept`)
  t.equal(summary.falsePauses.guarded, 0, 'and no false pause anywhere in the set')
})

t.test('on a line without echo every barge-in is heard; once the line is known, as early as without the guard', async (t) => {
  const clean = scores.filter((s) => s.scenario.echo.attenuationDb >= 100)
  t.ok(clean.length >= 2)
  for (const s of clean) {
    const name = s.scenario.name
    t.not(s.guarded.keptAt, undefined, `${name}: heard`)
    t.equal(s.line.state, 'clear', `${name}: the line was found clear`)
    // During its first second of our speech the guard assumes the worst line (G.168's 6 dB):
    // a caller quieter than that is heard a little later.
    if ((s.scenario.caller?.atMs ?? 0) >= 2000) t.equal(s.guarded.keptAt, s.vad.keptAt, `${name}: as early as the VAD alone`)
  }
})

t.test('as good as the guard before it looked at known lines sparsely: every barge-in it kept, kept as early', async (t) => {
  const before = summariseReference(scores)
  const now = summarise(scores)
  t.equal(before.falsePauses.guarded, 0, 'the reference: no false pause either')
  t.ok(now.kept >= before.kept, `${now.kept} kept, ${before.kept} before`)
  for (const s of scores.filter((x) => x.reference?.keptAt !== undefined)) {
    t.ok(s.guarded.keptAt !== undefined && s.guarded.keptAt <= (s.reference?.keptAt ?? 0), `${s.scenario.name}: at ${s.guarded.keptAt} ms (${s.reference?.keptAt} before)`)
  }
  // The verdicts did move (the comparison is not of two copies of one guard).
  t.ok(scores.reduce((n, s) => n + (s.referenceMismatches ?? 0), 0) > 0, 'verdicts differ somewhere')
})
