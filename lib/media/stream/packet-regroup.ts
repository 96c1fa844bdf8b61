import type { Logger } from 'pino'
import { FRAME_MS, type StreamRate } from './frame.ts'

/**
 * Our replies cut to the call's packet time, for a call whose ptime is not 20 ms.
 *
 * FreeSWITCH makes unicast's L16 codec at the call's ptime (switch_ivr.c
 * switch_ivr_activate_unicast, 444-452) and writes each datagram we send as one frame of it
 * (unicast_thread_run, 345-352), one per tick of the call's packet clock. A datagram shorter than
 * the packet is "padded" with 0xFF written at the *start* of the buffer (switch_core_media.c
 * switch_core_session_write_frame, the `perfect` branch, 16196-16197): on a real switch at ptime
 * 30 each of our 20 ms datagrams left as one 30 ms packet holding only its second half, one every
 * 30 ms, the rest queued up to 4 s and dropped (docs/freeswitch-pack.md, "Packet time").
 *
 * So the rest of the media path stays on 20 ms frames (pacer, queue, echo guard) and only the
 * send is regrouped: frames go into packet-sized datagrams, each sent as soon as it is whole. At
 * ptime 30 that is two datagrams every three frames (20 and 40 ms apart, 30 on average: the rate
 * FreeSWITCH writes them, so its socket holds at most one); at ptime 10, two at once per frame.
 * A datagram waits for at most a packet less a frame of our audio.
 *
 * The end of a reply does not wait for audio that may never come: its last part is sent padded
 * with silence, which puts us ahead of FreeSWITCH's clock by the padding. The idle silence that
 * follows pays that back (that much of it is left out), so a call that keeps sending silence does
 * not drift ahead; one that stops sending lets FreeSWITCH play out, and starts from scratch.
 */

/** `at`: when its first sample was due, by the times of the frames pushed (scheduler clock). */
export type SendPacket = (packet: Buffer, at: number) => void

/** Packets whose first frame is remembered for takeBack: more than a socket holds (40 ms ahead, 10 ms packets). */
const RECENT_PACKETS = 8

export class PacketRegrouper {
  readonly packetBytes: number
  readonly #packetMs: number
  /** Nothing sent for this long: FreeSWITCH has played out all we gave it (see push). */
  readonly #drainedMs: number
  readonly #send: SendPacket
  /** The datagram being filled: a fresh buffer each time (the socket may read it after send returns). */
  #packet: Buffer
  #filled = 0
  /** Whether the bytes filled hold any audio (not only idle silence). */
  #filledAudio = false
  /** Silence sent ahead of FreeSWITCH's clock by a padded end of reply (bytes). */
  #ahead = 0
  #lastAt = Number.NEGATIVE_INFINITY
  /** When the first sample of the packet being filled was due. */
  #startAt = 0
  readonly #msPerByte: number
  #packetsSent = 0
  /** Frames pushed, and the index of the one the packet being filled starts in. */
  #framesPushed = 0
  #startFrame = 0
  /** The frame each recent packet started in (by packetsSent % RECENT_PACKETS), for takeBack. */
  readonly #recentStarts = new Float64Array(RECENT_PACKETS)
  /** Silence padding of the last packet sent (bytes; 0 when it was not a padded reply end). */
  #lastPadding = 0

  constructor (packetBytes: number, rate: StreamRate, send: SendPacket) {
    if (packetBytes <= 0 || packetBytes % 2 !== 0) throw new RangeError(`packet size ${packetBytes}: a positive even number of bytes`)
    this.packetBytes = packetBytes
    this.#packetMs = packetBytes / 2 / rate * 1000
    this.#msPerByte = 1000 / 2 / rate
    // What FreeSWITCH can hold of ours: a packet, the padding of a reply's end (less than a
    // packet) and the pacer's lead (up to two frames, call-pacer.ts), which the pacer pays back
    // by sending nothing for as many slots.
    this.#drainedMs = 2 * this.#packetMs + 2 * FRAME_MS
    this.#send = send
    this.#packet = Buffer.allocUnsafe(packetBytes)
  }

  /**
   * The regrouper a call needs, from the size of FreeSWITCH's first datagram (its packet time), or
   * undefined when its packets are our 20 ms frames. Said once in the log.
   */
  static forCall (datagramBytes: number, rate: StreamRate, send: SendPacket, logger: Logger): PacketRegrouper | undefined {
    const ms = datagramBytes / 2 / rate * 1000
    if (ms === FRAME_MS) return undefined
    logger.info({ frameMs: ms }, `this call's audio comes in ${ms} ms packets (its ptime): our speech goes out in ${ms} ms packets too`)
    return new PacketRegrouper(datagramBytes, rate, send)
  }

  /** Datagrams sent. */
  get packetsSent (): number { return this.#packetsSent }

  /** Milliseconds of our audio waiting for the rest of its datagram. */
  get pendingMs (): number { return this.#filled / this.packetBytes * this.#packetMs }

  /**
   * One 20 ms frame, sent at `at` (scheduler clock): `silent` when it is idle silence (nothing
   * queued, or paused), `endsAudio` when it is the last of the audio queued.
   */
  push (frame: Buffer, silent: boolean, endsAudio: boolean, at: number): void {
    if (at - this.#lastAt > this.#drainedMs) {
      // FreeSWITCH has played out what it had, the silence sent ahead included, and silence still
      // waiting here would only delay the next reply.
      this.#ahead = 0
      if (!this.#filledAudio) this.#filled = 0
    }
    this.#lastAt = at
    const index = this.#framesPushed++
    let from = 0
    if (silent && this.#ahead > 0) {
      from = Math.min(this.#ahead, frame.length)
      this.#ahead -= from
    }
    while (from < frame.length) {
      // Stamped with its first sample's due time, packets are exactly a packet apart however
      // they are sent (20 and 40 ms apart at ptime 30): a listener's timeline does not jitter.
      if (this.#filled === 0) {
        this.#startAt = at + from * this.#msPerByte
        this.#startFrame = index
      }
      const n = Math.min(frame.length - from, this.packetBytes - this.#filled)
      frame.copy(this.#packet, this.#filled, from, from + n)
      from += n
      this.#filled += n
      if (!silent) this.#filledAudio = true
      if (this.#filled === this.packetBytes) this.#flush(this.#startAt)
    }
    if (endsAudio && this.#filled > 0) {
      this.#ahead += this.packetBytes - this.#filled
      const padding = this.packetBytes - this.#filled
      this.#packet.fill(0, this.#filled)
      this.#flush(this.#startAt)
      this.#lastPadding = padding
    }
  }

  /**
   * The socket held the last `packets` packets and they were taken back (a pause or a barge-in):
   * returns how many of the frames pushed had audio in them or in the packet being filled, which
   * is dropped too, for OutboundQueue.unsend. A frame that began in a packet already played goes
   * back whole: at most a packet less a frame of audio heard twice, none lost.
   */
  takeBack (packets: number): number {
    if (packets <= 0) return 0
    const first = this.#packetsSent - Math.min(packets, RECENT_PACKETS, this.#packetsSent)
    // Padding never played is no longer ahead of FreeSWITCH's clock.
    this.#ahead = Math.max(0, this.#ahead - this.#lastPadding)
    this.clear()
    return this.#framesPushed - (this.#recentStarts[first % RECENT_PACKETS] as number)
  }

  /** Barge-in: the audio waiting for the rest of its datagram is dropped with the queue. */
  clear (): void {
    this.#filled = 0
    this.#filledAudio = false
  }

  #flush (at: number): void {
    this.#recentStarts[this.#packetsSent % RECENT_PACKETS] = this.#startFrame
    this.#lastPadding = 0
    const packet = this.#packet
    this.#packet = Buffer.allocUnsafe(this.packetBytes)
    this.#filled = 0
    this.#filledAudio = false
    this.#packetsSent++
    this.#send(packet, at)
  }
}
