/**
 * The caller's media for bench/real-switch-turn-taking.ts, in a process of its own so nothing
 * else delays its packets: SIPp does the signalling and offers RTP at `rtpPort`; this process
 * sends from that port, PCMU on a 20 ms clock: complete sentences from the offline voices
 * (espeak-ng Italian when installed, flite's four English voices) with digital silence between turns, paced by
 * the agent's tone it hears back. It logs each utterance's first and last RTP sequence number,
 * which the driver finds in the capture. A packet sent late leaves FreeSWITCH's read behind for
 * the rest of the call (lib/simulator/caller.ts readSegments), so the clock spins its last 1.5 ms.
 *   node --import tsx bench/real-switch-caller.ts <outdir> <first|barge> <turns> <rtpPort> <fakesPort>
 */
import { createSocket } from 'node:dgram'
import { openSync, writeSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import pino from 'pino'
import { concatInt16, int16FromBytes } from '../lib/media/pcm.ts'
import { resample } from '../lib/media/resample.ts'
import { detectEspeak } from '../lib/speech/tts/offline-espeak.ts'
import { OfflineTts } from '../lib/speech/tts/offline.ts'
import { encodeUlaw, ulawLevel } from './real-switch-pcap.ts'

const SENTENCES = [
  ['Buongiorno, vorrei prendere un appuntamento per domani mattina.', 'it'],
  ['Hello, I would like to book a table for two people tomorrow evening.', 'en', 'kal'],
  ['Mi può dire quanto costa la visita di controllo?', 'it'],
  ['Could you call me back later this afternoon?', 'en', 'rms'],
  ['Ho ricevuto la fattura della settimana scorsa.', 'it'],
  ['I am calling about the invoice you sent last week.', 'en', 'awb'],
  ['Vorrei parlare con il dottor Rossi, per favore.', 'it'],
  ['My number is five five five, one two three four.', 'en', 'slt'],
  ['Allora va bene, ci vediamo giovedì alle dieci.', 'it'],
  ['Thank you very much, that is all I needed.', 'en', 'kal'],
] as const
const BARGE = ['Aspetti, mi scusi, ho un\'altra domanda da farle.', 'it'] as const
const BACKCHANNEL = ['Uh-huh.', 'en', 'rms'] as const
// A different reply each turn (the speech cache would answer a repeat without the TTS fake), with
// no digit before its full stop (the sentence splitter waits for the next chunk after "1.").
const WORDS = ['prima', 'seconda', 'terza', 'quarta', 'quinta', 'sesta', 'settima', 'ottava', 'nona', 'decima', 'undicesima', 'dodicesima', 'tredicesima', 'quattordicesima', 'quindicesima', 'sedicesima', 'diciassettesima', 'diciottesima', 'diciannovesima', 'ventesima']
/** The TTS fake's extra wait in sentence turn `turn` (0-19 ms, spread over the 20 ms write tick as the bench does). */
export const ttsOffset = (turn: number): number => (turn * 7) % 20
const LONG = 'Allora, le spiego con calma tutte le opzioni che abbiamo a disposizione per questo servizio, una per una. '

/** Mean level of each 10 ms block, dBFS. */
function blockLevels (x: Int16Array): number[] {
  const out: number[] = []
  for (let i = 0; i + 80 <= x.length; i += 80) {
    let ss = 0
    for (let k = i; k < i + 80; k++) ss += (x[k] as number) ** 2
    out.push(10 * Math.log10(ss / 80 / 32768 ** 2 + 1e-12))
  }
  return out
}

/**
 * One utterance as PCMU: 8 kHz, its voiced extent (blocks within 35 dB of the peak), at -20 dBFS,
 * pauses inside it (blocks under -45 dBFS) capped at 160 ms so no sentence is split by its own comma
 * (a turn ends at 260 ms), trailing blocks under -40 dBFS cut so the voice ends where the clip ends.
 */
async function clip (tts: OfflineTts, text: string, language: string, voice?: string): Promise<Buffer> {
  const chunks: Int16Array[] = []
  let rate = 8000
  for await (const c of tts.synthesize({ text, language, voice }, {})) { chunks.push(int16FromBytes(c.pcm)); rate = c.sampleRate }
  const raw = resample(concatInt16(chunks), rate, 8000)
  let levels = blockLevels(raw)
  const peak = Math.max(...levels)
  const first = levels.findIndex((l) => l > peak - 35)
  const last = levels.length - 1 - [...levels].reverse().findIndex((l) => l > peak - 35)
  const voiced = raw.subarray(first * 80, (last + 1) * 80)
  let ss = 0
  for (const v of voiced) ss += v * v
  const gain = 32768 * 10 ** (-20 / 20) / Math.sqrt(ss / voiced.length)
  const x = Int16Array.from(voiced, (v) => Math.max(-32768, Math.min(32767, Math.round(v * gain))))
  levels = blockLevels(x)
  let end = levels.length
  while (end > 1 && (levels[end - 1] as number) < -40) end--
  const kept: Int16Array[] = []
  let quiet = 0
  for (let b = 0; b < end; b++) {
    quiet = (levels[b] as number) < -45 ? quiet + 1 : 0
    if (quiet <= 16) kept.push(x.subarray(b * 80, b * 80 + 80))
  }
  const speech = concatInt16(kept)
  // Whole 20 ms frames: the last one is padded with digital silence after the voice ends.
  const out = Buffer.alloc(Math.ceil(speech.length / 160) * 160, 0xff)
  for (let i = 0; i < speech.length; i++) out[i] = encodeUlaw(speech[i] as number)
  return out
}

async function main (): Promise<void> {
  const [outdir = '.', plan = 'first', turnsArg = '10', portArg = '6100', fakesArg = '18090'] = process.argv.slice(2)
  const turns = Number(turnsArg)
  const now = (): number => performance.timeOrigin + performance.now()
  const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
  const events = openSync(`${outdir}/caller.jsonl`, 'w')
  const ev = (o: Record<string, unknown>): void => { writeSync(events, `${JSON.stringify({ t: now(), ...o })}\n`) }
  const tts = new OfflineTts({ logger: pino({ level: 'silent' }), espeak: await detectEspeak() })
  const say1 = async ([text, lang, voice]: readonly [string, string, string?]): Promise<Buffer> => await clip(tts, text, lang, voice)
  const sentences = await Promise.all(SENTENCES.map(say1))
  const barge = await say1(BARGE)
  const backchannel = await say1(BACKCHANNEL)
  const control = async (o: Record<string, unknown>): Promise<Record<string, number>> => {
    const res = await fetch(`http://127.0.0.1:${fakesArg}/control`, { method: 'POST', body: JSON.stringify(o) })
    return await res.json() as Record<string, number>
  }
  // fetch's first use loads undici: done before the RTP starts, so it cannot delay a packet.
  await control({})

  const sock = createSocket('udp4')
  await new Promise<void>((resolve) => sock.bind(Number(portArg), '127.0.0.1', resolve))
  process.send?.({ type: 'ready' })
  let fsPort = 0
  let lastTone = 0
  const waiters: Array<(t: number) => boolean> = []
  sock.on('message', (msg, rinfo) => {
    const t = now()
    if (fsPort === 0) fsPort = rinfo.port
    if (ulawLevel(msg.subarray(12)) <= 300) return
    lastTone = t
    for (const w of waiters.splice(0)) if (!w(t)) waiters.push(w)
  })
  const agentStarts = async (after: number, ms = 6000): Promise<number | undefined> => await new Promise((resolve) => {
    const timer = setTimeout(() => { resolve(undefined) }, ms)
    waiters.push((t) => { if (t <= after) return false; clearTimeout(timer); resolve(t); return true })
  })
  const agentQuiet = async (ms: number): Promise<void> => { for (let left = ms; left > 0; left = lastTone + ms - now()) await sleep(left + 5) }

  const queue: Array<{ buf: Buffer, name: string, turn: number, done: (t: number) => void }> = []
  const stop = { done: false }
  const sender = (async () => {
    for (const giveUp = now() + 30_000; fsPort === 0; await sleep(5)) {
      if (now() > giveUp || stop.done) { ev({ kind: 'no-media' }); process.exit(1) }
    }
    let seq = 1
    let current: (typeof queue)[number] & { frame: number, firstSeq: number } | undefined
    const start = now() + 5
    for (let k = 0; !stop.done; k++) {
      const due = start + k * 20
      if (due - now() > 1.5) await sleep(due - now() - 1.5)
      while (now() < due) { /* the last 1.5 ms: spin */ }
      const next = current === undefined ? queue.shift() : undefined
      if (next !== undefined) current = { ...next, frame: 0, firstSeq: seq }
      const payload = current === undefined ? Buffer.alloc(160, 0xff) : current.buf.subarray(current.frame * 160, ++current.frame * 160)
      const header = Buffer.alloc(12)
      header[0] = 0x80
      header.writeUInt16BE(seq & 0xffff, 2)
      header.writeUInt32BE((k * 160) >>> 0, 4)
      header.writeUInt32BE(0x5a5a1234, 8)
      sock.send(Buffer.concat([header, payload]), fsPort, '127.0.0.1')
      if (current !== undefined && current.frame * 160 >= current.buf.length) {
        ev({ kind: 'said', name: current.name, turn: current.turn, firstSeq: current.firstSeq & 0xffff, lastSeq: seq & 0xffff })
        current.done(now())
        current = undefined
      }
      seq++
    }
  })()
  const say = async (buf: Buffer, name: string, turn: number): Promise<number> => await new Promise((done) => { queue.push({ buf, name, turn, done }) })

  await agentStarts(0, 15_000) // the greeting
  await agentQuiet(800)
  for (let i = 1; i <= turns; i++) {
    const kind = plan === 'first' ? 'sentence' : i % 2 === 1 ? 'barge' : 'backchannel'
    const reply = kind === 'sentence' ? [`Certo, ecco la risposta ${WORDS[(i - 1) % WORDS.length] ?? ''}.`] : Array<string>(kind === 'barge' ? 6 : 4).fill(LONG)
    await control({ stt: kind === 'sentence' ? 'Vorrei un appuntamento.' : 'Vorrei sapere le opzioni.', reply, endCall: plan === 'first' && i === turns, ttsOffsetMs: kind === 'sentence' ? ttsOffset(i) : 0 })
    await sleep(700)
    const end = await say(sentences[(i - 1) % sentences.length] as Buffer, 'sentence', i)
    const start = await agentStarts(end - 1)
    if (start !== undefined && kind !== 'sentence') {
      await sleep(Math.max(0, start + 300 - now()))
      await control(kind === 'barge' ? { stt: 'Aspetti, ho un\'altra domanda.', reply: [`Va bene, mi dica pure ${WORDS[(i - 1) % WORDS.length] ?? ''}.`] } : { stt: 'Sì.' })
      await say(kind === 'barge' ? barge : backchannel, kind, i)
    }
    await sleep(300)
    await agentQuiet(kind === 'sentence' ? 1000 : 1500)
    ev({ kind: 'turn-end', turn: i, what: kind, counts: await control({}) })
  }
  if (plan !== 'first') {
    await control({ stt: 'Grazie, arrivederci.', reply: ['Arrivederci.'], endCall: true })
    await agentStarts(await say(sentences[9] as Buffer, 'goodbye', turns + 1))
  }
  await sleep(3000)
  stop.done = true
  await sender
  sock.close()
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
