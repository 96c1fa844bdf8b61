/**
 * `npm run bench`: every benchmark, results written to BENCHMARKS.md with the command, the
 * machine and the date. Providers are loopback fakes with fixed latencies (bench/turns.ts), so
 * the numbers are our own overhead. Takes about ten minutes on the 2-core reference machine.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { runTurnsBench, LATENCY, type TurnsResult } from './turns.ts'
import { runCapacityBench, type CapacityResult } from './capacity.ts'
import { spliceSection } from './sections.ts'

const log = (line: string): void => { process.stderr.write(`bench: ${line}\n`) }
const ms = (v: number): string => Number.isFinite(v) ? `${Math.round(v)} ms` : 'n/a'
const verdict = (ok: boolean): string => ok ? 'met' : '**missed**'

const started = new Date()
const turns = await runTurnsBench({ log })
log('capacity (server in a child process)')
const capacity = await runCapacityBench({ log })
// Only this run's section is rewritten: the other benchmarks' sections stay (bench/sections.ts).
const file = new URL('../BENCHMARKS.md', import.meta.url)
const doc = await readFile(file, 'utf8').catch(() => '# Benchmarks\n')
await writeFile(file, spliceSection(doc, 'run', `<!-- run:begin (written by bench/run.ts) -->\n${report(turns, capacity, started)}<!-- run:end -->`))
await (await import('./vad.ts')).benchVad({ log }) // appends its own section (bench/vad.ts)
log('results written to BENCHMARKS.md')

function report (t: TurnsResult, c: CapacityResult, at: Date): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  const at200 = t.overhead.find((o) => o.calls === 200) ?? t.overhead.at(-1)
  const lines = [
    `Command: \`npm run bench\` (\`node --expose-gc --import tsx bench/run.ts\`). Machine: ${cpus().length} × ${cpu}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}. Date: ${at.toISOString()}.`,
    '',
    'Providers are loopback fakes with fixed latencies: the real OpenAI client against a local',
    `OpenAI-compatible server (STT answers in ${LATENCY.sttMs} ms; the LLM streams each sentence in`,
    `${LATENCY.llmSentenceMs} ms as eight token-like pieces) and a TTS stub that takes ${LATENCY.ttsMs} ms per sentence.`,
    `The VAD ends the caller's turn after ${LATENCY.endSilenceMs} ms of silence. Calls are streamed (unicast) and`,
    'everything is measured from the caller\'s side by the FreeSWITCH simulator, which runs in the',
    'parent process while the server under test runs in a child, pinned to separate CPUs.',
    '',
    '## Summary',
    '',
    '| measure | target | p50 | p99 | verdict |',
    '|---|---|---|---|---|',
    `| our overhead on time to first audio, ${at200?.calls ?? '?'} calls | ≤ 5 ms p50, ≤ 20 ms p99 | ${ms(at200?.p50 ?? NaN)} | ${ms(at200?.p99 ?? NaN)} | ${verdict((at200?.p50 ?? Infinity) <= 5 && (at200?.p99 ?? Infinity) <= 20)} |`,
    `| sentence streaming: first audio / whole reply first | ≤ 0.4 | ${t.streaming.ratio.toFixed(2)} | | ${verdict(t.streaming.ratio <= 0.4)} |`,
    `| greeting: socket connect to first frame | ≤ 10 ms, 0 TTS calls | ${ms(t.greeting.p50)} | ${ms(t.greeting.p99)} | ${verdict(t.greeting.p50 <= 10 && t.greeting.ttsCallsDuringCalls === 0)} (${t.greeting.ttsCallsDuringCalls} TTS calls) |`,
    `| barge-in: speech onset to agent audio stopped, beyond the VAD's ${t.bargeIn.minSpeechMs} ms confirmation | ≤ 40 ms | ${ms(t.bargeIn.p50)} | ${ms(t.bargeIn.p99)} | ${verdict(t.bargeIn.p50 <= 40)} |`,
    `| capacity: streaming calls within jitter p99 ≤ 5 ms and loop delay p99 ≤ 20 ms | ≥ 500 | ${c.capacity} | | ${verdict(c.capacity >= 500)} |`,
    `| memory per call | ≤ 1 MB | ${c.mbPerCall.toFixed(2)} MB | | ${verdict(c.mbPerCall <= 1)} |`,
    '',
    '## Time to first audio',
    '',
    'Time to first audio is from the end of the caller\'s speech to the first frame of the reply the',
    'caller hears. Our overhead is that minus the fixed latencies above (VAD end silence + STT + the',
    'LLM\'s first sentence + TTS). The stage columns are p50s of what each stage took beyond its fixed',
    'latency, from the call\'s own latency waterfall.',
    '',
    'Calls run concurrently; their turns are spread over max(2 s, 50 ms per call), as live',
    'conversations\' turns are (20 turns a second at 200 calls). The server and the provider fakes run',
    'in a child process, the simulator in this one; a step where the simulator itself lagged',
    '(event-loop delay p99 > 20 ms) is marked driver-limited.',
    '',
    'Overhead is two separate numbers: processing (end of speech to the reply\'s audio in hand, the',
    'stages summed per turn) and media alignment (audio in hand to the caller hearing its first frame:',
    'the frame clock and FreeSWITCH\'s queue).',
    '',
    '| concurrent calls | measured | TTFA p50 | TTFA p99 | overhead p50 | overhead p99 | VAD end + STT | LLM first sentence | TTS | processing p50 | media alignment p50 / p99 | server loop p99 / CPU | simulator loop p99 |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...t.overhead.map((o) => `| ${o.calls} | ${o.measured} | ${ms(o.ttfaP50)} | ${ms(o.ttfaP99)} | ${ms(o.p50)} | ${ms(o.p99)} | ${ms(o.stages.endpointAndStt)} | ${ms(o.stages.llm)} | ${ms(o.stages.tts)} | ${ms(o.stages.processing)} | ${ms(o.stages.playout)} / ${ms(o.stages.playoutP99)} | ${ms(o.serverLoopP99)} / ${o.serverCpu.toFixed(2)} | ${ms(o.driverLoopP99)}${o.driverLimited ? ' (driver-limited)' : ''} |`),
    '',
    `Sentence streaming: first audio ${ms(t.streaming.ttfaMs)} after the final transcript, against ${ms(t.streaming.wholeReplyMs)}`,
    'for an agent that waits for the whole reply to be generated and synthesised (the LLM\'s last text,',
    'measured, plus the three sentences synthesised in sequence, measured).',
    '',
    '## Capacity',
    '',
    c.table,
    '',
    '## Where targets are missed, why, and what would fix it',
    '',
    ...notes(t, c),
    '',
  ]
  return lines.join('\n')
}

function notes (t: TurnsResult, c: CapacityResult): string[] {
  const out: string[] = []
  const o = t.overhead.at(-1)
  if (o !== undefined && (o.p50 > 5 || o.p99 > 20)) {
    out.push(
      '- **Overhead on time to first audio.** Most of it is not processing but two things the formula',
      '  counts as ours: the 20 ms frame clocks (our pacer sends on its next tick, and FreeSWITCH, here the',
      '  simulator, plays on its own 20 ms tick: up to 40 ms between "audio ready" and "heard"), and the',
      '  VAD, which decides the turn is over a little after the configured silence because trailing',
      '  unvoiced frames still count as speech. The OpenAI-compatible recogniser is utterance-only, so the',
      '  audio is uploaded after the endpoint; Google\'s streaming recogniser has the transcript ready at',
      '  the endpoint. At 200 calls the server shares its one core with the loopback provider fakes and',
      '  the TTS stub (the profile: media I/O and VAD ~21%, the OpenAI client and fetch ~11%, GC ~8%),',
      '  so turns queue for the CPU. Fixes: send the first frame of a reply at once instead of on the',
      '  next tick, use a streaming recogniser, and run the fakes on their own core (3+ cores).',
    )
  }
  if (t.greeting.p50 > 10) {
    out.push(
      '- **Greeting latency.** No TTS is involved (0 calls), but before the first frame the call',
      '  goes through the Event Socket handshake (connect, two filters, event subscriptions, linger:',
      '  each a round trip, sent one after another by the esl package), admission, `answer` (waiting for',
      '  its CHANNEL_EXECUTE_COMPLETE) and the `unicast` command, then the first 20 ms tick. Fixes:',
      '  pipeline the subscriptions, start unicast before `answer` completes, and send the greeting\'s',
      '  first frames as soon as FreeSWITCH\'s address is known.',
    )
  }
  if (t.bargeIn.p99 > 40) {
    out.push(
      '- **Barge-in p99.** The VAD confirms speech on 20 ms frames and up to two frames of ours are',
      '  already queued in FreeSWITCH when we clear: 40-60 ms beyond the confirmation in the worst case.',
      '  Fix: keep one frame ahead instead of two (`media.stream.leadFrames: 0`) at some risk of underrun.',
    )
  }
  if (c.capacity < 500 || c.mbPerCall > 1) out.push(...c.notes.map((n) => `- ${n}`))
  if (out.length === 0) out.push('Every target was met in this run.')
  return out
}
