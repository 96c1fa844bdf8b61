import type { Logger } from 'pino'
import type { CallerAudio } from './caller.ts'
import type { ChannelState } from './channel.ts'
import { DisplaceBugs } from './displace.ts'
import { CallerEar, type WriteTimer } from './ear.ts'
import { UnicastLink, unicastParams, type UnicastEnd, type UnicastEngine, type UnicastPort, type UnicastRecord } from './unicast.ts'
import type { Packet } from './wire.ts'

/**
 * The channel's media state: CF_UNICAST and the "unicast" private (src/switch_ivr.c), the
 * displace_session bugs (src/switch_ivr_async.c), and what the caller heard.
 */
export class ChannelMedia {
  /** CF_UNICAST with the channel private "unicast" it refers to. */
  unicast: UnicastPort | undefined
  readonly unicastRecords: UnicastRecord[] = []
  readonly ear: CallerEar
  readonly displace = new DisplaceBugs()
  /**
   * Every socket ever bound. A `unicast` sent while one is active replaces the private without
   * closing the old socket (switch_ivr_activate_unicast() does not look): it stays open until
   * the session's pool is destroyed.
   */
  private readonly links = new Set<UnicastPort>()
  private readonly activations = new Set<Promise<void>>()
  private closed = false

  constructor (
    private readonly channel: ChannelState,
    private readonly audio: CallerAudio,
    private readonly now: () => number,
    private readonly cngFrames: number,
    private readonly log: Logger | undefined,
    private readonly engine: UnicastEngine = UnicastLink,
    writeTimer: WriteTimer = 'matrix',
    private readonly ptimeMs = 20,
  ) {
    if (!Number.isInteger(ptimeMs / 10) || ptimeMs < 10 || ptimeMs > 60) throw new RangeError(`ptimeMs ${ptimeMs}: 10 to 60 in steps of 10`)
    this.ear = new CallerEar(writeTimer, ptimeMs)
  }

  /** switch_core_session_write_frame(): media bugs, then out to the caller. */
  writeFrame (samples: Int16Array, source: 'unicast' | 'playback', atMs: number): void {
    if (this.channel.hungUp) return
    const out = this.displace.onWrite(samples)
    if (source === 'unicast') this.ear.queueUnicast(out, atMs)
    else this.ear.writeNow(out, atMs)
  }

  /** switch_core_session_read_frame(): the caller's frame `index`, after media bugs. */
  readFrame (index: number): Int16Array {
    return this.displace.onRead(this.audio.frame(index))
  }

  /** Whether the read of frame `index` is a CNG frame (no caller RTP in for it). */
  isCng (index: number): boolean {
    return this.audio.isGap(index)
  }

  /** switch_ivr_activate_unicast(); a failure leaves CF_UNICAST as it was. */
  async activateUnicast (packet: Packet): Promise<void> {
    const activation = this.activate(packet)
    this.activations.add(activation)
    try {
      await activation
    } finally {
      this.activations.delete(activation)
    }
  }

  private async activate (packet: Packet): Promise<void> {
    const { record, link } = await this.engine.activate(unicastParams(packet), {
      now: this.now,
      write: (samples, atMs) => { this.writeFrame(samples, 'unicast', atMs) },
      // switch_ivr_park(): a failed sendto() deactivates whatever CF_UNICAST refers to.
      sendFailed: () => { this.deactivateUnicast('send-failed') },
      log: this.log,
      packetSamples: this.ptimeMs * 8,
    }, this.cngFrames)
    this.unicastRecords.push(record)
    if (link === undefined) {
      this.log?.debug({ failed: record.failed }, 'simulated unicast activation failed')
      return
    }
    this.links.add(link)
    if (this.closed) { link.deactivate('call-ended'); return }
    this.unicast = link
  }

  /** switch_ivr_deactivate_unicast(): closes the connection CF_UNICAST refers to, if any. */
  deactivateUnicast (by: UnicastEnd): void {
    const link = this.unicast
    if (link === undefined) return
    this.unicast = undefined
    link.deactivate(by)
  }

  /** The session's pool is destroyed: every unicast socket closes. */
  async close (): Promise<void> {
    this.closed = true
    await Promise.allSettled([...this.activations])
    this.unicast = undefined
    for (const link of this.links) link.deactivate('call-ended')
    await Promise.all([...this.links].map(async (l) => { await l.closed }))
  }
}
