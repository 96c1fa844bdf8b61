import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { Test } from 'tap'
import type { Speaker } from '../../lib/call/context.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { OpenAiLlm } from '../../lib/llm/openai.ts'
import { createOpenAiClient } from '../../lib/providers/openai-client.ts'
import { ProviderQueue } from '../../lib/providers/queue.ts'
import { FakeFreeSwitch, level, type HeardFrame } from '../../lib/simulator/index.ts'
import { OpenAiStt } from '../../lib/speech/stt/openai.ts'
import { OpenAiTts } from '../../lib/speech/tts/openai.ts'
import { SpeechCache } from '../../lib/speech/tts-cache.ts'
import { CALLER, CHAT, DID, STT, callerTurnMs, reply, startRig, transcript, type CapturedCall } from '../conversation/helpers.ts'
import { FakeOpenAiServer, type Reply } from '../fakes/openai-server.ts'
import { speechLike } from '../media-stream/signals.ts'
import { toneWav } from '../helpers/speaker.ts'
export { withLoopDelay } from '../helpers/loop-delay.ts'

/**
 * The fault table (issue 15): one simulated call per provider fault and media mode, measured
 * from the caller's side. The caller speaks once; the provider under test then fails in one
 * way; the simulator's record of every frame sent to the caller gives the longest silence from
 * the end of their speech to the moment the call left us (the fallback transfer).
 *
 * STT and TTS run against their own loopback OpenAI-compatible fake (so each case can set the
 * provider's own timeout), the LLM against the rig's. The TTS is the real OpenAI client behind
 * the real speech cache once the fixed phrases are pre-rendered (with the tone speaker, at
 * start-up): the answer's sentences go over the wire, the filler and the apology never do.
 */

export type Role = 'stt' | 'llm' | 'tts'
export type Mode = 'files' | 'stream'
export type Fault = 'error' | 'rate-limited' | 'timeout' | 'never' | 'stall' | 'stall-answer' | 'garbage'

export const FAULT_LABELS: Record<Fault, string> = {
  error: 'HTTP 500',
  'rate-limited': 'HTTP 429',
  timeout: 'its own timeout (400 ms)',
  never: 'never answers',
  stall: 'stalls mid-stream',
  'stall-answer': 'stalls after its first sentence',
  garbage: 'malformed body',
}

/** Every fault of every role; the LLM also stalls after a sentence was heard (mid-answer). */
export const CASES: ReadonlyArray<{ role: Role, fault: Fault }> = [
  ...(['stt', 'llm', 'tts'] as const).flatMap((role) =>
    (['error', 'rate-limited', 'timeout', 'never', 'stall', 'garbage'] as const).map((fault) => ({ role, fault }))),
  { role: 'llm', fault: 'stall-answer' },
]

export interface Budget {
  readonly deadAirMs: number
  readonly turnMs: number
  readonly llmFirstTokenMs: number
  readonly ttsFirstAudioMs: number
  readonly maxFillers: number
}

export interface FaultRun {
  readonly role: Role
  readonly fault: Fault
  readonly mode: Mode
  /** Longest stretch without a loud frame, from the end of the caller's speech to the transfer. */
  readonly longestSilenceMs: number
  /** When the caller stopped speaking, and when the call left us (call timeline, ms). */
  readonly speechEndMs: number
  readonly endMs: number
  readonly fillers: number
  /** When each filler started, and the answer's first audio (epoch ms; undefined: none). */
  readonly fillersAt: readonly number[]
  readonly answerAt: number | undefined
  readonly apology: boolean
  /** Agent lines of the answer the caller heard (whole or in part). */
  readonly answered: boolean
  readonly transferredTo: string | undefined
  readonly call: CapturedCall
}

const APOLOGY = 'Mi scusi, ho un problema tecnico. La metto in contatto con un collega.'
const ANSWER = 'Certo, controllo subito la disponibilità.'
const SPEECH_AT_MS = 300
const SPEECH_MS = 700
/** The provider's own timeout for `timeout`; everything else has a long one, as in production. */
const SHORT_TIMEOUT_MS = 400
const LONG_TIMEOUT_MS = 30_000
/** A frame this loud is something the caller hears (the tone voices are ~5000, the ringback ~3300). */
const AUDIBLE = 100
const LATER = 10_000
/** Never settles: a stalled body stays stalled (the fake drops the socket when it closes). */
const FOREVER = new Promise<never>(() => {})

function voice (): { atMs: number, wav: Buffer } {
  return { atMs: SPEECH_AT_MS, wav: encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, SPEECH_MS / 1000, -18) }) }
}

function failure (status: number, message: string): Reply {
  return { kind: 'json', status, body: { error: { message, type: status === 429 ? 'rate_limit_error' : 'server_error' } } }
}

/** What the faulty provider answers, per role. */
function faultyReply (role: Role, fault: Fault): Reply {
  if (fault === 'error') return failure(500, 'boom')
  if (fault === 'rate-limited') return failure(429, 'slow down')
  if (fault === 'never') return { kind: 'hang' }
  if (role === 'stt') {
    const body = Buffer.from(JSON.stringify({ text: 'Vorrei un appuntamento.' }))
    if (fault === 'timeout') return { kind: 'json', body: { text: 'troppo tardi' }, delayMs: LATER }
    if (fault === 'stall') return { kind: 'bytes', body, contentType: 'application/json', chunkSize: 8, hold: { afterChunks: 1, until: FOREVER } }
    return { kind: 'bytes', body: Buffer.from('<html>502 Bad Gateway</html>'), contentType: 'application/json' }
  }
  if (role === 'llm') {
    if (fault === 'timeout') return { ...reply(ANSWER), firstDelayMs: LATER }
    if (fault === 'stall') return reply(['Allora', ', vediamo.'], { delayMs: 60_000 })
    // The next sentence's first word shows the splitter that the first one is over.
    if (fault === 'stall-answer') return reply([`${ANSWER} E`, ' poi'], { delayMs: 60_000 })
    return { kind: 'sse', chunks: [], raw: ['data: {"choices": [{"delta": {"content": "Cer\n\n'], done: false }
  }
  // TTS: 8 kHz PCM (WAV for the malformed case, whose header is what is checked).
  const pcm = toneWav(1000).subarray(44)
  if (fault === 'timeout') return { kind: 'bytes', body: pcm, contentType: 'audio/pcm', firstDelayMs: LATER }
  if (fault === 'stall') return { kind: 'bytes', body: pcm, contentType: 'audio/pcm', chunkSize: 1600, hold: { afterChunks: 2, until: FOREVER } }
  return { kind: 'bytes', body: Buffer.from('RIFF\u0000\u0000garbage, not a wave file at all'), contentType: 'audio/wav' }
}

/** A stand-in for tap's Test (the bench, a warm-up call): teardowns run by `close`, checks pass. */
export function harness (): { t: Test, close: () => Promise<void> } {
  const teardowns: Array<() => unknown> = []
  const t = { teardown: (fn: () => unknown) => { teardowns.push(fn) }, equal: () => true, ok: () => true } as unknown as Test
  return { t, close: async () => { for (const fn of teardowns.reverse()) await fn() } }
}

export async function runFault (t: Test, role: Role, fault: Fault, mode: Mode, budget: Budget): Promise<FaultRun> {
  const providers = await FakeOpenAiServer.start()
  const ttsDir = await mkdtemp(join(tmpdir(), 'pa-faults-'))
  t.teardown(async () => {
    await providers.close()
    await rm(ttsDir, { recursive: true, force: true })
  })
  const client = createOpenAiClient({ baseUrl: providers.baseUrl, apiKey: 'sk-test' })
  const retry = { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 }
  const timeoutOf = (r: Role): number => r === role && fault === 'timeout' ? SHORT_TIMEOUT_MS : LONG_TIMEOUT_MS
  const stt = new OpenAiStt({ client, name: 'whisper', model: 'whisper-1', language: 'it-IT', queue: new ProviderQueue('stt', 4), retry, timeoutMs: timeoutOf('stt') })
  const tts = new OpenAiTts({ client, name: 'openai-tts', model: 'tts-1', voice: 'alloy', format: fault === 'garbage' ? 'wav' : 'pcm', sampleRate: 8000, queue: new ProviderQueue('tts', 4), retry, timeoutMs: timeoutOf('tts') })
  const cache = new SpeechCache({ provider: tts, soundsDir: ttsDir, maxBytes: 10_000_000, logger: pino({ enabled: false }) })
  // The tone speaker pre-renders the fixed phrases; once armed, speech goes over the wire.
  let armed = false
  const wrapSpeaker = role !== 'tts' ? undefined : (tone: Speaker): Speaker => ({
    render: async (text, o) => armed ? await cache.render(text, o) : await tone.render(text, o),
    stream: (text, o) => cache.stream(text, o),
  })
  const rig = await startRig(t, {
    media: { mode },
    stt,
    llmTimeoutMs: timeoutOf('llm'),
    ...(wrapSpeaker === undefined ? {} : { wrapSpeaker }),
    agent: {
      deadlines: { noInputMs: 5000, turnMs: budget.turnMs, llmFirstTokenMs: budget.llmFirstTokenMs, ttsFirstAudioMs: budget.ttsFirstAudioMs, deadAirMs: budget.deadAirMs },
      fillers: { max: budget.maxFillers },
    },
  })
  armed = true
  providers.reply(STT, role === 'stt' ? faultyReply(role, fault) : transcript('Vorrei un appuntamento.'))
  rig.fake.reply(CHAT, role === 'llm' ? faultyReply(role, fault) : reply(ANSWER))
  if (role === 'tts') providers.reply('/v1/audio/speech', faultyReply(role, fault))

  const speech = voice()
  const sim = new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { hangupAtMs: 30_000 } })
  // The caller speaks SPEECH_AT_MS into their turn (callerTurnMs: we listen, the greeting is
  // over), not after the call starts: on a loaded machine listening was seen starting well after
  // SPEECH_AT_MS, and the case failed on the no-input timeout instead of on the fault under test.
  const speechAtMs = await callerTurnMs(sim) + speech.atMs
  sim.say(speechAtMs, speech.wav)
  const result = await sim.ended
  // Not rig.settled(): its timer count is process-wide, and the table runs cases side by side.
  await rig.llmQueue.onIdle()
  await Promise.all([rig.fake.whenNoConnections(), providers.whenNoConnections()])
  t.equal(rig.fake.openConnections + providers.openConnections, 0, 'no provider connection left open')
  const call = rig.store.calls[0] as CapturedCall
  const speechEndMs = speechAtMs + SPEECH_MS
  const endMs = result.transfer?.atMs ?? result.endedAtMs
  const fillersAt = rig.logs.filter((l) => l.msg === 'dead air: filler').map((l) => Number(l.time))
  const agent = call.turns.filter((x) => x.role === 'agent').map((x) => x.text)
  return {
    role,
    fault,
    mode,
    longestSilenceMs: longestSilence(result.heard, speechEndMs, endMs),
    speechEndMs,
    endMs,
    fillers: fillersAt.length,
    fillersAt,
    answerAt: call.latency[0]?.firstFrameAt,
    apology: agent.includes(APOLOGY),
    answered: agent.some((text) => ANSWER.startsWith(text) && text !== ''),
    transferredTo: result.transfer?.to,
    call,
  }
}

/** The longest stretch in [fromMs, toMs] with no audible frame (no frame at all is silence too). */
export function longestSilence (heard: readonly HeardFrame[], fromMs: number, toMs: number): number {
  const frames = heard.filter((f) => level(f.samples) >= AUDIBLE).map((f) => f.playMs).sort((a, b) => a - b)
  let cursor = fromMs
  let longest = 0
  for (const at of frames) {
    if (at >= toMs) break
    if (at > cursor) longest = Math.max(longest, at - cursor)
    cursor = Math.max(cursor, at + 20)
  }
  return Math.max(longest, toMs - cursor)
}

/** What the caller heard after speaking, in a few words. */
export function heardSummary (run: FaultRun): string {
  const parts: string[] = []
  if (run.answered) parts.push('part of the answer')
  if (run.fillers > 0) parts.push(run.fillers === 1 ? 'one filler' : `${run.fillers} fillers`)
  if (run.apology) parts.push('the apology')
  parts.push(run.transferredTo === undefined ? 'no transfer' : `transfer to ${run.transferredTo}`)
  return parts.join(', ')
}

/**
 * One call in each mode before measuring: the first call in a process pays for loading and
 * compiling everything it touches (the clients, the simulator, the WAV code), hundreds of
 * milliseconds that are not the behaviour under test.
 */
export async function warmUp (budgets: Partial<Record<Mode, Budget>>): Promise<void> {
  for (const mode of ['files', 'stream'] as const) {
    const budget = budgets[mode]
    if (budget === undefined) continue
    const h = harness()
    try {
      await runFault(h.t, 'llm', 'error', mode, budget)
    } finally {
      await h.close()
    }
  }
}
