/**
 * What bench/real-switch-turn-taking.ts reads from its capture (tshark on loopback): the caller's
 * RTP by sequence number, FreeSWITCH's RTP to the caller, and the unicast datagrams both ways,
 * each with its pcap time and level. Then the turn-taking figures, on the definitions of
 * bench/turn-taking.ts: from the caller's last speech packet on the wire (its audio ends then) and
 * from FreeSWITCH's read of it (the datagram that carried that frame to us: the simulator's
 * end of speech) to FreeSWITCH's first RTP packet with the reply's audio to the caller.
 */
import { execFileSync } from 'node:child_process'

/** G.711 mu-law (ITU-T G.711; the classic Sun reference coder). */
export function encodeUlaw (sample: number): number {
  const sign = sample < 0 ? 0x80 : 0
  const v = Math.min(32635, Math.abs(sample)) + 0x84
  let exp = 7
  for (let mask = 0x4000; (v & mask) === 0 && exp > 0; mask >>= 1) exp--
  return ~(sign | (exp << 4) | ((v >> (exp + 3)) & 0x0f)) & 0xff
}

const ULAW = Int16Array.from({ length: 256 }, (_, b) => {
  const u = ~b & 0xff
  const v = ((((u & 0x0f) << 3) + 0x84) << ((u >> 4) & 7)) - 0x84
  return (u & 0x80) !== 0 ? -v : v
})

/** Mean absolute sample of a PCMU payload. */
export function ulawLevel (payload: Buffer): number {
  let sum = 0
  for (const b of payload) sum += Math.abs(ULAW[b] as number)
  return payload.length === 0 ? 0 : sum / payload.length
}

function l16Level (payload: Buffer): number {
  let sum = 0
  for (let i = 0; i + 1 < payload.length; i += 2) sum += Math.abs(payload.readInt16LE(i))
  return payload.length < 2 ? 0 : sum / (payload.length >> 1)
}

/** Times in ms (epoch, fractional) with the packet's mean absolute level. */
export type Timed = Array<{ readonly t: number, readonly level: number }>
export interface Capture {
  /** The caller's RTP: sequence number -> time. */
  readonly caller: Map<number, number>
  readonly toCaller: Timed
  /** FreeSWITCH's unicast datagrams to us (one per read tick; all 0xFF = a tick without a caller packet). */
  readonly fromSwitch: Timed
  readonly toSwitch: Timed
}

export function readCapture (pcap: string, callerPort: number, switchPorts: { min: number, max: number }): Capture {
  const out = execFileSync('tshark', ['-r', pcap, '-d', `udp.port==${callerPort},rtp`, '-Y', 'udp && !sip', '-T', 'fields',
    '-e', 'frame.time_epoch', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'rtp.seq', '-e', 'rtp.payload', '-e', 'udp.payload'],
  { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  const c: Capture = { caller: new Map(), toCaller: [], fromSwitch: [], toSwitch: [] }
  const inRange = (p: number): boolean => p >= switchPorts.min && p <= switchPorts.max
  for (const line of out.split('\n')) {
    const [time, src, dst, seq, rtp, udp] = line.split('\t')
    if (time === undefined || src === undefined || dst === undefined) continue
    const t = Number(time) * 1000
    const hex = (s: string | undefined): Buffer => Buffer.from((s ?? '').replaceAll(':', ''), 'hex')
    if (Number(src) === callerPort && seq !== '') c.caller.set(Number(seq), t)
    else if (Number(dst) === callerPort && rtp !== '') c.toCaller.push({ t, level: ulawLevel(hex(rtp)) })
    else if (inRange(Number(src))) c.fromSwitch.push({ t, level: l16Level(hex(udp)) })
    else if (inRange(Number(dst))) c.toSwitch.push({ t, level: l16Level(hex(udp)) })
  }
  return c
}

/** An utterance as the caller process logged it. */
export interface Said { readonly name: string, readonly turn: number, readonly firstSeq: number, readonly lastSeq: number }
export interface TurnFigures {
  readonly turn: number
  /** The caller's last speech packet -> the reply's first audio packet to the caller. */
  readonly fromWire: number
  /** The caller's last speech packet -> FreeSWITCH's datagram carrying it to us. */
  readonly readDelay: number
  readonly fromRead: number
  /** Our first datagram with the reply's audio -> FreeSWITCH's packet to the caller. */
  readonly written: number
}

/** The agent's tone: well above the digital silence and keep-alives. */
const TONE = 300
const firstAfter = (list: Timed, t0: number): number | undefined => list.find((p) => p.t > t0 && p.level > TONE)?.t

/** First-audio figures per sentence turn; `offsets` (turn -> ms) is the TTS fake's extra wait, subtracted. */
export function firstAudio (c: Capture, said: readonly Said[], offsets: ReadonlyMap<number, number>): TurnFigures[] {
  const out: TurnFigures[] = []
  for (const s of said.filter((x) => x.name === 'sentence')) {
    const end = c.caller.get(s.lastSeq)
    if (end === undefined) continue
    // One datagram per read tick: the last speech frame is the one before the first silent one.
    let read: number | undefined
    for (const d of c.fromSwitch) {
      if (d.t < end - 1) continue
      if (d.level <= 1) break
      read = d.t
    }
    const wire = firstAfter(c.toCaller, end)
    const ours = firstAfter(c.toSwitch, end)
    if (wire === undefined || read === undefined || ours === undefined || wire - end > 3000) continue
    const off = offsets.get(s.turn) ?? 0
    out.push({ turn: s.turn, fromWire: wire - end - off, readDelay: read - end, fromRead: wire - read - off, written: wire - ours })
  }
  return out
}

/** Barge-ins and backchannels: the start of the caller's speech (its first packet - 20 ms) -> the end of the agent's audio run it fell in. */
export function overlaps (c: Capture, said: readonly Said[]): Array<{ turn: number, kind: string, stoppedMs: number, resumedMs?: number }> {
  const out: Array<{ turn: number, kind: string, stoppedMs: number, resumedMs?: number }> = []
  for (const s of said.filter((x) => x.name === 'barge' || x.name === 'backchannel')) {
    const packet = c.caller.get(s.firstSeq)
    if (packet === undefined) continue
    const onset = packet - 20
    let prev: number | undefined
    let resumed: number | undefined
    for (const p of c.toCaller) {
      if (p.t < onset - 100 || p.level <= TONE) continue
      if (prev !== undefined && p.t - prev > 60) { resumed = p.t; break }
      prev = p.t
    }
    if (prev === undefined) continue
    out.push({ turn: s.turn, kind: s.name, stoppedMs: prev + 20 - onset, ...(resumed === undefined ? {} : { resumedMs: resumed - onset }) })
  }
  return out
}
