import { readFileSync } from 'node:fs'
import { isAbsolute } from 'node:path'
import { FRAME_SAMPLES } from './caller.ts'
import type { App } from './session.ts'
import { parseWav, toMono8k } from './wav.ts'

/**
 * displace_session / stop_displace_session (mod_dptools.c) and the media bug they add, after
 * switch_ivr_displace_session(), write_displace_callback() and read_displace_callback() in
 * src/switch_ivr_async.c. A media bug works on frames as they pass: it neither reads nor writes
 * on its own, never calls switch_core_session_reset(), and so leaves unicast running. The file
 * is heard only while something writes frames (our datagrams, a playback).
 */

interface DisplaceBug {
  /** The resolved path: the channel-private key, and what stop_displace_session must name. */
  readonly file: string
  readonly samples: Int16Array
  pos: number
  readonly mux: boolean
  readonly loop: boolean
  /** Flag 'r': the file goes to the read side (what we get over unicast), not to the caller. */
  readonly read: boolean
  /** bug->stop_time: epoch seconds, 0 for none. */
  readonly stopAtSec: number
}

export class DisplaceBugs {
  private readonly bugs: DisplaceBug[] = []

  get active (): number {
    return this.bugs.length
  }

  has (file: string): boolean {
    return this.bugs.some((b) => b.file === file)
  }

  add (bug: DisplaceBug): void {
    this.bugs.push(bug)
  }

  /** switch_ivr_stop_displace_session(): by the exact private name. */
  stop (file: string): boolean {
    const i = this.bugs.findIndex((b) => b.file === file)
    if (i < 0) return false
    this.bugs.splice(i, 1)
    return true
  }

  /** SWITCH_ABC_TYPE_WRITE_REPLACE on a frame toward the caller. */
  onWrite (frame: Int16Array): Int16Array {
    return this.apply(frame, false)
  }

  /** SWITCH_ABC_TYPE_READ_REPLACE on a frame from the caller. */
  onRead (frame: Int16Array): Int16Array {
    return this.apply(frame, true)
  }

  private apply (input: Int16Array, readSide: boolean): Int16Array {
    let frame = input
    const nowSec = Math.floor(Date.now() / 1000)
    for (const bug of [...this.bugs]) {
      if (bug.stopAtSec > 0 && nowSec >= bug.stopAtSec) { this.stop(bug.file); continue }
      if (bug.read !== readSide) {
        // The other direction of a replacing bug: memset(data, 255), i.e. L16 samples of -1.
        if (!bug.mux) frame = new Int16Array(FRAME_SAMPLES).fill(-1)
        continue
      }
      const chunk = bug.samples.subarray(bug.pos, bug.pos + FRAME_SAMPLES)
      bug.pos += chunk.length
      const out = bug.mux ? Int16Array.from(frame) : new Int16Array(FRAME_SAMPLES)
      for (let i = 0; i < chunk.length; i++) {
        out[i] = bug.mux ? Math.max(-32768, Math.min(32767, (out[i] as number) + (chunk[i] as number))) : chunk[i] as number
      }
      frame = out
      // A read of 0 samples is the end: loop back, or drop the bug (the callback returns FALSE).
      if (chunk.length === 0) {
        if (bug.loop && bug.samples.length > 0) bug.pos = 0
        else this.stop(bug.file)
      }
    }
    return frame
  }
}

const TRUE_WORDS = new Set(['true', 'yes', 'on', 'enabled', 'active', 'allow', '1'])

/** displace_session_function(): `path [flags] [+limit]`, at most 6 words. */
export const displaceSession: App = async (s, arg) => {
  const argv = arg.split(' ').slice(0, 6)
  let file = argv[0] ?? ''
  if (file === '') return
  let limit = 0
  let flags = ''
  for (const word of argv.slice(1)) {
    if (word.includes('+')) limit = Number.parseInt(word, 10) || 0
    else if (word !== '') flags = word
  }
  const vars = s.channel.variables
  const hangupOnError = TRUE_WORDS.has((vars.get('DISPLACE_HANGUP_ON_ERROR') ?? '').toLowerCase())
  if (!file.includes('://')) {
    if (!isAbsolute(file)) file = `${vars.get('sound_prefix') ?? s.options.baseDir}/${file}`
    // No extension: the read codec's IANA name, which the WAV-only simulator cannot open.
    if (!file.includes('.')) file = `${file}.PCMA`
  }
  if (s.media.displace.has(file)) return // "Only 1 of the same file per channel please!"
  let samples: Int16Array
  try {
    samples = toMono8k(parseWav(readFileSync(file)))
  } catch {
    if (hangupOnError) {
      s.hangup('DESTINATION_OUT_OF_ORDER', 'server')
      s.reset(true)
    }
    return
  }
  s.media.displace.add({
    file,
    samples,
    pos: 0,
    mux: flags.includes('m'),
    loop: flags.includes('l'),
    read: flags.includes('r'),
    stopAtSec: limit > 0 ? Math.floor(Date.now() / 1000) + limit : 0,
  })
}

export const stopDisplaceSession: App = async (s, arg) => {
  s.media.displace.stop(arg)
}
