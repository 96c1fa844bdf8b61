import { readFile, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { Logger } from 'pino'
import type { Config } from '../config/load.ts'
import { startPhoneAgent } from '../app.ts'
import { PhoneAgentError } from '../errors.ts'
import { encodeWav, parseWav } from '../media/wav.ts'
import { toMonoAt } from '../media/pcm.ts'
import { showCall } from '../records/show.ts'
import type { CallRecorder, CallStore, TurnInput } from '../records/types.ts'
import { createSpeechServices } from '../speech/services.ts'
import { FakeFreeSwitch, type SimulatedCall } from '../simulator/index.ts'
import { exampleNumber } from './numbers.ts'

export const CALL_USAGE = `Usage: phone-agent call [options]

Places a simulated call through the FreeSWITCH simulator (the real Event Socket protocol) to a
server started in this process from your config, or to a running one with --server. Prints the
live transcript and your scripts' log lines, and the call record at the end.

  --to NUMBER          Dialled number (default: the first route in the config)
  --from NUMBER        Caller ID (default: an example mobile number of numbers.defaultCountry)
  --name NAME          Caller name
  --say TEXT           A line the caller says (offline voice); repeat for several lines
  --wav FILE           A line the caller says, from a WAV file; repeat, mix with --say (in order)
                       Each line is spoken once the agent has been quiet for a moment.
  --start-ms MS        The caller's first line is not spoken before this (default 2500), nor
                       before the agent's greeting, waited for up to 10 s more
  --dtmf D@MS,...      DTMF digits at times, e.g. 1@4000,#@4500
  --hangup-at MS       The caller hangs up at this time (default: when the agent does, or 120 s)
  --server HOST:PORT   Call a running server instead (no config file needed; then give --to)
  --out FILE           Write the conversation as stereo WAV (caller left, agent right)
  --config PATH        Config file (default: $PHONE_AGENT_CONFIG or ./phone-agent.yaml)

Log lines: the calls' own at logging.level (PHONE_AGENT_LOG_LEVEL overrides), the rest from warn.
`

export interface CallCommandDeps {
  readonly config: Config
  readonly logger: Logger
  readonly out: { write (text: string): unknown }
  /** Call records: in-process they are written here; with --server they are read from here. */
  readonly store?: CallStore | undefined
  /** Receives the line printer once the call's clock starts, for log lines (see log-output.ts). */
  readonly onPrinter?: ((print: (line: string) => void) => void) | undefined
  /** --wav and --out paths are taken from here (default: the working directory). */
  readonly cwd?: string | undefined
}

/** How long the agent must have been quiet before the caller's next line. */
const QUIET_BEFORE_LINE_MS = 900
/**
 * A caller who has heard nothing yet waits this long past --start-ms for a greeting, as a person
 * does, then speaks anyway (a script that only listens). A greeting synthesised by the offline
 * voice on a loaded machine was seen starting 9.5 s in, and the caller had talked into the void.
 */
const GREETING_WAIT_MS = 10_000
/** How long the server gets to write the record of a call it just ended (--server mode). */
const RECORD_WAIT_MS = 3000

/** A line the caller says, with its audio: text spoken by the offline voice, or a file. */
type CallerLine = { readonly kind: 'text', readonly text: string, readonly audio: Buffer } | { readonly kind: 'wav', readonly file: string, readonly audio: Buffer }

export async function runCallCommand (argv: readonly string[], deps: CallCommandDeps): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      tokens: true,
      options: {
        to: { type: 'string' }, from: { type: 'string' }, name: { type: 'string' },
        say: { type: 'string', multiple: true }, wav: { type: 'string', multiple: true }, 'start-ms': { type: 'string' },
        dtmf: { type: 'string' }, 'hangup-at': { type: 'string' }, server: { type: 'string' }, out: { type: 'string' },
        config: { type: 'string' }, help: { type: 'boolean' },
      },
    })
  } catch (err) {
    deps.out.write(`${(err as Error).message}\n\n${CALL_USAGE}`)
    return 2
  }
  const values = parsed.values
  if (values.help === true) { deps.out.write(CALL_USAGE); return 0 }
  const { config, out } = deps
  const to = values.to ?? Object.keys(config.routes)[0]
  if (to === undefined) { out.write('no --to and no routes in the config\n'); return 2 }
  const from = values.from ?? exampleNumber(config.numbers.defaultCountry, 'caller')
  const startMs = integerOption('start-ms', values['start-ms'], 2500)
  const hangupAtMs = integerOption('hangup-at', values['hangup-at'], 120_000)
  const dtmf = parseDtmf(values.dtmf)
  // Every file is read before the call, so a typo fails at once and not halfway through.
  const wavs = new Map<string, Buffer>()
  for (const token of parsed.tokens) {
    if (token.kind === 'option' && token.name === 'wav' && token.value !== undefined) wavs.set(token.value, await callerWav(resolve(deps.cwd ?? '.', token.value)))
  }
  const remote = values.server === undefined ? undefined : parseServer(values.server)

  const speech = await createSpeechServices(config, deps.logger)
  // The caller's words are synthesised before dialling: a person has them ready, and a slow
  // (or busy) machine must not make the caller miss the moment the agent stops talking.
  const lines: CallerLine[] = []
  try {
    for (const token of parsed.tokens) {
      if (token.kind !== 'option' || token.value === undefined) continue
      if (token.name === 'say') lines.push({ kind: 'text', text: token.value, audio: await synthesize(speech.speaker, token.value, config.language) })
      if (token.name === 'wav') lines.push({ kind: 'wav', file: token.value, audio: wavs.get(token.value)! })
    }
  } catch (err) {
    await speech.close()
    throw err
  }

  const t0 = Date.now()
  const stamp = (): string => `[${((Date.now() - t0) / 1000).toFixed(2).padStart(6)} s]`
  const print = (line: string): void => { out.write(`${stamp()} ${line}\n`) }
  deps.onPrinter?.(print)

  let target: { host: string, port: number }
  let stop = async (): Promise<void> => {}
  // Caller lines are printed when spoken; a recorded caller turn only when STT heard something else.
  const said: string[] = []
  if (remote === undefined) {
    const agent = await startPhoneAgent({ ...config, server: { ...config.server, port: 0 } }, {
      logger: deps.logger, speaker: speech.speaker, stt: speech.stt, llm: speech.llm,
      records: printingStore(deps.store, (turn) => {
        if (turn.role === 'agent') print(`agent : ${turn.text}${turn.interrupted === true ? ' [interrupted]' : ''}`)
        else if (!said.some((s) => sameWords(s, turn.text))) print(`heard : ${turn.text}`)
      }),
    })
    target = { host: '127.0.0.1', port: agent.server.port }
    stop = async () => { await agent.stop(5000) }
  } else {
    target = remote
  }

  try {
    const fs = new FakeFreeSwitch()
    const call = fs.placeCall({
      ...target,
      destination: to,
      callerNumber: from,
      callerName: values.name ?? 'Simulated Caller',
      caller: { audio: [], dtmf, hangupAtMs },
    })
    print(`calling ${to} from ${from} (call ${call.uuid})${remote === undefined ? '' : ` on ${remote.host}:${remote.port}`}`)
    const speaking = speakLines(call, lines, startMs, (line) => {
      if (line.kind === 'text') { said.push(line.text); print(`caller: ${line.text}`) } else print(`caller: [audio from ${line.file}]`)
    })
    // A remote server's words are not ours to print; what the caller heard is.
    const listening = remote === undefined ? { stop: () => {} } : watchAgentAudio(call, print)
    const result = await call.ended
    speaking.stop()
    listening.stop()
    print(`call ended: ${result.hangupCause ?? 'unknown'} (hung up by ${result.hungUpBy})`)
    if (values.out !== undefined) {
      await writeFile(resolve(deps.cwd ?? '.', values.out), call.conversationWav())
      out.write(`conversation written to ${values.out} (caller left, agent right)\n`)
    }
    await showRecord(deps.store, result.uuid, remote !== undefined, out)
    return 0
  } finally {
    await stop()
    await speech.close()
  }
}

/** The record at the end: our own store in-process; with --server, the same database if we can see it. */
async function showRecord (store: CallStore | undefined, uuid: string, remote: boolean, out: { write (text: string): unknown }): Promise<void> {
  if (store === undefined) {
    if (remote) out.write(`\nno local config, so the server's record is not visible here: run \`phone-agent calls show ${uuid}\` where it runs\n`)
    return
  }
  if (!remote) await store.flush()
  const deadline = Date.now() + (remote ? RECORD_WAIT_MS : 0)
  for (;;) {
    const detail = await store.get(uuid)
    if (detail !== undefined && (!remote || detail.endedAt !== null)) { out.write(`\n${showCall(detail)}\n`); return }
    if (Date.now() >= deadline) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  if (remote) out.write(`\nthe server's record of ${uuid} is not in this config's database: run \`phone-agent calls show ${uuid}\` where the server runs\n`)
}

function integerOption (name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new PhoneAgentError('CONFIG_INVALID', `--${name} ${value} is not a whole number of milliseconds`)
  return n
}

function parseServer (value: string): { host: string, port: number } {
  const m = /^(?:([^:]+):)?(\d{1,5})$/.exec(value)
  const port = Number(m?.[2])
  if (m === null || port < 1 || port > 65535) throw new PhoneAgentError('CONFIG_INVALID', `--server ${value} is not HOST:PORT`)
  return { host: m[1] ?? '127.0.0.1', port }
}

/** The caller's WAV as 8 kHz mono, whatever it was recorded at. */
async function callerWav (path: string): Promise<Buffer> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (err) {
    throw new PhoneAgentError('MEDIA_INVALID', `--wav ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err })
  }
  try {
    return encodeWav(toMonoAt(parseWav(bytes), 8000))
  } catch (err) {
    throw new PhoneAgentError('MEDIA_INVALID', `--wav ${path}: not a PCM WAV file we can read (${(err as Error).message})`, { cause: err })
  }
}

async function synthesize (speaker: { render: (text: string, o: { language?: string }) => Promise<{ path: string }> }, text: string, language: string): Promise<Buffer> {
  const { path } = await speaker.render(text, { language })
  return await readFile(path)
}

/** `1@4000,#@4500` -> DTMF events. */
export function parseDtmf (spec: string | undefined): Array<{ atMs: number, digit: string }> {
  if (spec === undefined || spec === '') return []
  return spec.split(',').map((part) => {
    const m = /^([0-9A-D*#])@(\d+)$/i.exec(part.trim())
    if (m === null) throw new PhoneAgentError('CONFIG_INVALID', `bad --dtmf entry "${part}" (expected DIGIT@MS, e.g. 1@4000)`)
    return { digit: m[1]!.toUpperCase(), atMs: Number(m[2]) }
  })
}

/** Case, punctuation and spacing aside, the same words. */
function sameWords (a: string, b: string): boolean {
  const norm = (s: string): string => s.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim()
  return norm(a) === norm(b)
}

/**
 * Say each line once the agent has been quiet for a moment (what a person does), the first
 * not before `startMs` nor before the agent's first words (up to GREETING_WAIT_MS more). Works in both media modes: the simulator's ear hears streamed frames
 * and played files alike.
 */
function speakLines (call: SimulatedCall, lines: readonly CallerLine[], startMs: number, onSay: (line: CallerLine) => void): { stop: () => void } {
  let next = 0
  let busyUntil = 0
  const timer = setInterval(() => {
    if (next >= lines.length || call.hungUp) return
    const now = call.nowMs
    if (now < startMs || now < busyUntil) return
    const agentHeardUntil = call.ear.lastHeardEndMs(now)
    if (agentHeardUntil === undefined ? next === 0 && now < startMs + GREETING_WAIT_MS : now - agentHeardUntil < QUIET_BEFORE_LINE_MS) return
    const line = lines[next++]!
    const at = call.nowMs + 20
    call.say(at, line.audio)
    busyUntil = at + parseWav(line.audio).samples.length / 8 + QUIET_BEFORE_LINE_MS
    onSay(line)
  }, 100)
  return { stop: () => { clearInterval(timer) } }
}

/** With --server: one line per stretch of the agent's audio the caller heard. */
function watchAgentAudio (call: SimulatedCall, print: (line: string) => void): { stop: () => void } {
  let stretchStart: number | undefined
  let lastEnd = 0
  const flush = (end: number): void => {
    if (stretchStart === undefined) return
    print(`agent : [speech, ${((end - stretchStart) / 1000).toFixed(1)} s heard]`)
    stretchStart = undefined
    lastEnd = end
  }
  const timer = setInterval(() => {
    const now = call.nowMs
    const end = call.ear.lastHeardEndMs(now)
    if (end === undefined) return
    if (stretchStart === undefined && end > lastEnd && now - end < 300) stretchStart = call.ear.firstHeard(lastEnd)?.playMs ?? end
    else if (stretchStart !== undefined && now - end >= QUIET_BEFORE_LINE_MS) flush(end)
  }, 100)
  return {
    stop: () => {
      clearInterval(timer)
      const end = call.ear.lastHeardEndMs()
      if (end !== undefined) flush(end)
    },
  }
}

/** Wrap a store so every turn is also printed as it is recorded. */
function printingStore (store: CallStore | undefined, print: (turn: TurnInput) => void): Pick<CallStore, 'begin'> {
  return {
    begin: (start) => {
      const inner: CallRecorder | undefined = store?.begin(start)
      return {
        uuid: start.uuid,
        rejected: (r) => inner?.rejected(r),
        answered: (a) => inner?.answered(a),
        contact: (n) => inner?.contact(n),
        turn: (turn) => { print(turn); inner?.turn(turn) },
        latency: (l) => inner?.latency(l),
        message: (m) => inner?.message(m),
        error: (e) => inner?.error(e),
        usage: (u) => inner?.usage(u),
        end: async (e) => { await inner?.end(e) },
      }
    },
  }
}
