import { readFile, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import type { Logger } from 'pino'
import type { Config } from '../config/load.ts'
import { startPhoneAgent } from '../app.ts'
import { encodeWav, parseWav } from '../media/wav.ts'
import { toMonoAt } from '../media/pcm.ts'
import { showCall } from '../records/show.ts'
import type { CallRecorder, CallStore, TurnInput } from '../records/types.ts'
import { createSpeechServices } from '../speech/services.ts'
import { FakeFreeSwitch, type SimulatedCall } from '../simulator/index.ts'

export const CALL_USAGE = `Usage: phone-agent call [options]

Places a simulated call through the FreeSWITCH simulator (the real Event Socket protocol).

  --to NUMBER          Dialled number (default: the first route in the config)
  --from NUMBER        Caller ID (default +393331234567)
  --name NAME          Caller name
  --say TEXT           A line the caller says (offline voice); repeat for several lines.
                       Each is spoken once the agent has been quiet for a moment.
  --wav FILE           The caller's audio from a WAV file instead (starts at --start-ms)
  --start-ms MS        When the caller's first words start (default 2500)
  --dtmf D@MS,...      DTMF digits at times, e.g. 1@4000,#@4500
  --hangup-at MS       The caller hangs up at this time (default: when the agent does, or 120 s)
  --server HOST:PORT   Call a running server instead of starting one in this process
  --out FILE           Write the conversation as stereo WAV (caller left, agent right)
  --config PATH        Config file
`

export interface CallCommandDeps {
  readonly config: Config
  readonly logger: Logger
  readonly out: { write (text: string): unknown }
  /** Call records (in-process only); the record is shown at the end. */
  readonly store?: CallStore | undefined
}

/** How long the agent must have been quiet before the caller's next line. */
const QUIET_BEFORE_LINE_MS = 900

export async function runCallCommand (argv: readonly string[], deps: CallCommandDeps): Promise<number> {
  let values
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        to: { type: 'string' }, from: { type: 'string' }, name: { type: 'string' },
        say: { type: 'string', multiple: true }, wav: { type: 'string' }, 'start-ms': { type: 'string' },
        dtmf: { type: 'string' }, 'hangup-at': { type: 'string' }, server: { type: 'string' }, out: { type: 'string' },
        config: { type: 'string' }, help: { type: 'boolean' },
      },
    }).values
  } catch (err) {
    deps.out.write(`${(err as Error).message}\n\n${CALL_USAGE}`)
    return 2
  }
  if (values.help === true) { deps.out.write(CALL_USAGE); return 0 }
  const { config, out } = deps
  const to = values.to ?? Object.keys(config.routes)[0]
  if (to === undefined) { out.write('no --to and no routes in the config\n'); return 2 }
  const t0 = Date.now()
  const stamp = (): string => `[${((Date.now() - t0) / 1000).toFixed(2).padStart(6)} s]`

  // In-process: our own server on a free port, with a recorder that prints turns as they happen.
  const speech = await createSpeechServices(config, deps.logger)
  let target: { host: string, port: number }
  let stop = async (): Promise<void> => {}
  if (values.server === undefined) {
    const agent = await startPhoneAgent({ ...config, server: { ...config.server, port: 0 } }, {
      logger: deps.logger, speaker: speech.speaker, stt: speech.stt, llm: speech.llm,
      records: printingStore(deps.store, (turn) => { out.write(`${stamp()} ${turn.role === 'agent' ? 'agent ' : 'caller'}: ${turn.text}${turn.interrupted === true ? ' [interrupted]' : ''}\n`) }),
    })
    target = { host: '127.0.0.1', port: agent.server.port }
    stop = async () => { await agent.stop(5000) }
  } else {
    const [host, port] = values.server.split(':')
    target = { host: host ?? '127.0.0.1', port: Number(port) }
  }

  try {
    const startMs = Number(values['start-ms'] ?? 2500)
    const lines = values.say ?? []
    const audio = values.wav === undefined ? [] : [{ atMs: startMs, wav: await callerWav(values.wav) }]
    const dtmf = parseDtmf(values.dtmf)
    const fs = new FakeFreeSwitch()
    const call = fs.placeCall({
      ...target,
      destination: to,
      callerNumber: values.from ?? '+393331234567',
      callerName: values.name ?? 'Simulated Caller',
      caller: { audio, dtmf, hangupAtMs: Number(values['hangup-at'] ?? 120_000) },
    })
    out.write(`${stamp()} calling ${to} from ${values.from ?? '+393331234567'} (call ${call.uuid})\n`)
    const speaking = speakLines(call, lines, startMs, async (text) => await synthesize(speech.speaker, text, config.language), (text) => {
      out.write(`${stamp()} caller: ${text}\n`)
    })
    const result = await call.ended
    speaking.stop()
    out.write(`${stamp()} call ended: ${result.hangupCause ?? 'unknown'} (hung up by ${result.hungUpBy})\n`)
    if (values.out !== undefined) {
      await writeFile(values.out, call.conversationWav())
      out.write(`conversation written to ${values.out} (caller left, agent right)\n`)
    }
    if (deps.store !== undefined && values.server === undefined) {
      await deps.store.flush()
      const detail = await deps.store.get(result.uuid)
      if (detail) out.write(`\n${showCall(detail)}\n`)
    }
    return 0
  } finally {
    await stop()
    await speech.close()
  }
}

/** The caller's WAV as 8 kHz mono, whatever it was recorded at. */
async function callerWav (path: string): Promise<Buffer> {
  const audio = toMonoAt(parseWav(await readFile(path)), 8000)
  return encodeWav(audio)
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
    if (m === null) throw new Error(`bad --dtmf entry "${part}" (expected DIGIT@MS)`)
    return { digit: m[1]!.toUpperCase(), atMs: Number(m[2]) }
  })
}

/**
 * Say each line once the agent has been quiet for a moment (what a person does), the first
 * not before `startMs`. Works in both media modes: the simulator's ear hears streamed frames
 * and played files alike.
 */
function speakLines (call: SimulatedCall, lines: readonly string[], startMs: number,
  render: (text: string) => Promise<Buffer>, onSay: (text: string) => void): { stop: () => void } {
  let next = 0
  let busyUntil = 0
  let pending = false
  const timer = setInterval(() => {
    if (pending || next >= lines.length || call.hungUp) return
    const now = call.nowMs
    const agentQuietSince = call.ear.lastHeardEndMs(now) ?? 0
    if (now < startMs || now < busyUntil || now - agentQuietSince < QUIET_BEFORE_LINE_MS) return
    const text = lines[next++]!
    pending = true
    void render(text).then((wav) => {
      const at = call.nowMs + 20
      call.say(at, wav)
      busyUntil = at + parseWav(wav).samples.length / 8 + QUIET_BEFORE_LINE_MS
      onSay(text)
    }, () => {}).finally(() => { pending = false })
  }, 100)
  return { stop: () => { clearInterval(timer) } }
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
