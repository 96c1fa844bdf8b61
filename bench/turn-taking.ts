/**
 * Turn-taking benchmark (issue 14's goals), in one process against the simulator, with the
 * provider fakes at fixed latencies: STT 100 ms, LLM first token 150 ms, TTS 100 ms.
 *
 *   node --import tsx bench/turn-taking.ts
 *
 * Measures, from the caller's side (what the simulated caller hears):
 * - end of speech -> first agent audio on a finished sentence, adaptive endpointing on and off;
 * - barge-in: speech onset -> our output paused;
 * - mid-thought pauses after a trailing word (600-1000 ms): cut off or not;
 * - backchannels over a reply: resumed without loss or not.
 * Writes its section of BENCHMARKS.md between `turn-taking` markers.
 */
import type { Test } from 'tap'
import { FakeFreeSwitch } from '../lib/simulator/index.ts'
import { encodeWav } from '../lib/media/wav.ts'
import type { Speaker } from '../lib/call/context.ts'
import { speechLike } from '../test/media-stream/signals.ts'
import { CALLER, CHAT, DID, STT, chatRequests, reply, startRig, transcript, type ConversationRig } from '../test/conversation/helpers.ts'
import { spliceSection } from './sections.ts'

const FAKE = { sttMs: 100, llmFirstTokenMs: 150, ttsMs: 100 }
const LONG = 'Allora, le spiego con calma tutte le opzioni che abbiamo a disposizione per questo servizio, una per una. '

type Log = (line: string) => void

function voice (atMs: number, ms: number, f0 = 140): { atMs: number, wav: Buffer } {
  return { atMs, wav: encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, ms / 1000, -18, { f0 }) }) }
}

const slowTts = (speaker: Speaker): Speaker => ({
  render: async (text, options) => {
    await new Promise((resolve) => setTimeout(resolve, FAKE.ttsMs))
    return await speaker.render(text, options)
  },
})

/** A stand-in for tap's Test: startRig only registers teardowns and asserts at settle time. */
function harness (): { t: Test, close: () => Promise<void> } {
  const teardowns: Array<() => unknown> = []
  const t = { teardown: (fn: () => unknown) => { teardowns.push(fn) }, equal: () => true } as unknown as Test
  return { t, close: async () => { for (const fn of teardowns.reverse()) await fn() } }
}

async function withRig<T> (stream: Record<string, unknown>, fn: (rig: ConversationRig) => Promise<T>): Promise<T> {
  const h = harness()
  try {
    const rig = await startRig(h.t, { media: { mode: 'stream', stream }, wrapSpeaker: slowTts })
    return await fn(rig)
  } finally {
    await h.close()
  }
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p / 100))] ?? NaN
}

/** End of speech -> first agent audio, for a finished sentence. */
async function firstAudio (runs: number, stream: Record<string, unknown>): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < runs; i++) {
    out.push(await withRig(stream, async (rig) => {
      rig.fake.reply(STT, { ...transcript('Vorrei un appuntamento.'), delayMs: FAKE.sttMs })
      // First token after 150 ms, then the rest of the stream at once (a few ms apart).
      rig.fake.reply(CHAT, { ...reply('Certo.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }), firstDelayMs: FAKE.llmFirstTokenMs, delayMs: 2 })
      const speechEnd = 500 + 800
      const call = new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(500, 800)] } })
      await call.ended
      return (call.ear.firstHeard(speechEnd, 200)?.playMs ?? NaN) - speechEnd
    }))
  }
  return out
}

/** Speech onset over a reply -> our output paused. */
async function bargeInPause (runs: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < runs; i++) {
    out.push(await withRig({}, async (rig) => {
      rig.fake.reply(STT, transcript('Vorrei sapere le opzioni.'), transcript('Basta così.'))
      rig.fake.reply(CHAT, reply([LONG, LONG, LONG, LONG, LONG, LONG]), reply('Va bene.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
      const call = new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(500, 900)], hangupAtMs: 20_000 } })
      let at: number | undefined
      const watcher = setInterval(() => {
        const start = call.ear.firstHeard(1800, 200)
        if (at === undefined && start !== undefined && call.nowMs > start.playMs + 300) { at = call.nowMs + 20; call.say(at, voice(0, 1200, 180).wav) }
      }, 10)
      await call.ended
      clearInterval(watcher)
      if (at === undefined) return NaN
      return (call.ear.lastHeardEndMs(at + 700, 200) ?? NaN) - at
    }))
  }
  return out
}

/** A pause of `pauseMs` after "e": one turn (kept) or two (cut off). */
async function midThought (pauseMs: number): Promise<boolean> {
  return await withRig({}, async (rig) => {
    rig.fake.reply(STT, transcript('Vorrei sapere il prezzo e'), transcript('Vorrei sapere il prezzo e gli orari.'))
    rig.fake.reply(CHAT, reply('Certo.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }), reply('Certo.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
    const call = new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(1500, 800), voice(2300 + pauseMs, 700, 150)], hangupAtMs: 20_000 } })
    await call.ended
    return rig.store.calls[0]!.turns.filter((x) => x.role === 'caller').length === 1
  })
}

/** "Sì" over a reply: the agent pauses and goes on, nothing lost. */
async function backchannel (): Promise<boolean> {
  return await withRig({}, async (rig) => {
    rig.fake.reply(STT, transcript('Vorrei sapere le opzioni.'), transcript('Sì.'))
    rig.fake.reply(CHAT, reply([LONG, LONG, LONG, LONG], { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
    const call = new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(500, 900)], hangupAtMs: 20_000 } })
    let said = false
    const watcher = setInterval(() => {
      const start = call.ear.firstHeard(1800, 200)
      if (!said && start !== undefined && call.nowMs > start.playMs + 300) { said = true; call.say(call.nowMs + 20, voice(0, 450, 180).wav) }
    }, 10)
    await call.ended
    clearInterval(watcher)
    const agent = rig.store.calls[0]!.turns.filter((x) => x.role === 'agent')
    return said && chatRequests(rig.fake).length === 1 && !agent.some((x) => x.interrupted === true)
  })
}

export interface TurnTakingResult {
  readonly adaptive: number[]
  readonly fixed: number[]
  readonly pause: number[]
  readonly midThought: Array<{ pauseMs: number, kept: number, runs: number }>
  readonly backchannels: { resumed: number, runs: number }
}

export async function runTurnTakingBench (log: Log): Promise<TurnTakingResult> {
  log('turn-taking: first audio, adaptive endpointing')
  const adaptive = await firstAudio(10, {})
  log('turn-taking: first audio, fixed 500 ms end silence')
  const fixed = await firstAudio(10, { endpointing: { adaptive: false }, vad: { endSilenceMs: 500 } })
  log('turn-taking: barge-in pause')
  const pause = await bargeInPause(10)
  const mid: TurnTakingResult['midThought'] = []
  for (const pauseMs of [600, 800, 1000]) {
    log(`turn-taking: mid-thought pause ${pauseMs} ms`)
    let kept = 0
    for (let i = 0; i < 3; i++) if (await midThought(pauseMs)) kept++
    mid.push({ pauseMs, kept, runs: 3 })
  }
  log('turn-taking: backchannels')
  let resumed = 0
  for (let i = 0; i < 5; i++) if (await backchannel()) resumed++
  return { adaptive, fixed, pause, midThought: mid, backchannels: { resumed, runs: 5 } }
}

export function turnTakingSection (r: TurnTakingResult): string {
  const fixedLatency = FAKE.sttMs + FAKE.llmFirstTokenMs + FAKE.ttsMs
  const ms = (v: number): string => Number.isFinite(v) ? `${Math.round(v)} ms` : 'n/a'
  return [
    '<!-- turn-taking:begin -->',
    '## Turn-taking (conversation engine)',
    '',
    'Command: `node --import tsx bench/turn-taking.ts`. One process (server, simulator and provider',
    `fakes share the event loop), calls one after another. Fakes: STT ${FAKE.sttMs} ms, LLM first token`,
    `${FAKE.llmFirstTokenMs} ms, TTS ${FAKE.ttsMs} ms per sentence; the VAD is the configured default.`,
    `Measured on ${new Date().toISOString()}.`,
    '',
    '| measure | goal | p50 | p99 | runs |',
    '|---|---|---|---|---|',
    `| end of speech -> first agent audio, finished sentence, adaptive endpointing (250 ms) | ≤ 600 ms p50 | ${ms(percentile(r.adaptive, 50))} | ${ms(percentile(r.adaptive, 99))} | ${r.adaptive.length} |`,
    `| overhead beyond the fakes (${fixedLatency} ms) and the 250 ms silence | ≤ 25 ms | ${ms(percentile(r.adaptive, 50) - fixedLatency - 250)} | | |`,
    `| the same with a fixed 500 ms end silence (before) | | ${ms(percentile(r.fixed, 50))} | ${ms(percentile(r.fixed, 99))} | ${r.fixed.length} |`,
    `| barge-in: speech onset -> our output paused | ≤ 120 ms | ${ms(percentile(r.pause, 50))} | ${ms(percentile(r.pause, 99))} | ${r.pause.length} |`,
    '',
    '| pause after a trailing word ("… e") | turns kept whole |',
    '|---|---|',
    ...r.midThought.map((m) => `| ${m.pauseMs} ms | ${m.kept} / ${m.runs} |`),
    '',
    `Backchannels ("sì") over a reply: resumed without loss in ${r.backchannels.resumed} / ${r.backchannels.runs} calls.`,
    '',
    'The first-audio time includes the VAD\'s detection delay and the simulator\'s 20 ms frame clocks on',
    'both sides; in one process the fakes and the simulator share the server\'s core, so the overhead',
    'is an upper bound. Barge-in pause is measured to the last agent frame the caller heard.',
    '<!-- turn-taking:end -->',
  ].join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { readFile, writeFile } = await import('node:fs/promises')
  const log: Log = (line) => { process.stderr.write(`bench: ${line}\n`) }
  const result = await runTurnTakingBench(log)
  const file = new URL('../BENCHMARKS.md', import.meta.url)
  const doc = await readFile(file, 'utf8').catch(() => '# Benchmarks\n')
  await writeFile(file, spliceSection(doc, 'turn-taking', turnTakingSection(result)))
  log('section written to BENCHMARKS.md')
  process.stdout.write(`${turnTakingSection(result)}\n`)
}
