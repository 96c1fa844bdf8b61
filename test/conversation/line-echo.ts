import type { Test } from 'tap'
import { writeFile } from 'node:fs/promises'
import type { Speaker } from '../../lib/call/context.ts'
import type { PlaceCallOptions } from '../../lib/simulator/types.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { speechLike } from '../media-stream/signals.ts'
import { CALLER, CHAT, DID, STT, placeHeardCall, reply, startRig, transcript } from './helpers.ts'

const LONG = 'Allora, le spiego con calma tutte le opzioni che abbiamo a disposizione per questo servizio, una per una, senza tralasciare nulla di importante. '

/** Speech-like audio the caller says `atMs` into their turn. */
export function voice (atMs: number, ms: number, f0 = 140): { atMs: number, wav: Buffer } {
  return { atMs, wav: encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, ms / 1000, -18, { f0 }) }) }
}

/**
 * Every phrase sounds like a voice, 4 ms a character: its echo must look like one (a tone's is
 * vetoed anyway). Each cached file is voiced once, and every render of it waits for that: a reply
 * that says the same sentence twice renders the second while the first is read (render-ahead),
 * and rewriting the file then let that read find it cut short, so the turn failed with
 * TTS_FAILED (a CI run of 97b37c5; 1 in 11 runs of line-echo.spec beside two CPU burners).
 */
export const voiced = (speaker: Speaker): Speaker => {
  const done = new Map<string, Promise<void>>()
  return {
    render: async (text, options) => {
      const r = await speaker.render(text, options)
      let write = done.get(r.path)
      if (write === undefined) {
        write = writeFile(r.path, encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, Math.max(0.2, text.length * 0.004), -16, { f0: 120, seed: text.length }) }))
        done.set(r.path, write)
      }
      await write
      return r
    },
  }
}

/**
 * A long reply on a poor hybrid (the agent's voice back 120 ms late, only 8 dB down), once with
 * the echo guard and once without: checks the guarded reply is never cut by its echo, and returns
 * how often each was paused. `stream`: merged into `media.stream`; `call`: into the call placed.
 */
export async function lineEchoPauses (t: Test, options: { stream?: Record<string, unknown>, call?: Partial<PlaceCallOptions> } = {}): Promise<{ guarded: number, unguarded: number }> {
  const pauses = { guarded: 0, unguarded: 0 }
  for (const echoGuard of [true, false]) {
    const rig = await startRig(t, { media: { mode: 'stream', stream: { ...options.stream, bargeIn: { echoGuard } } }, wrapSpeaker: voiced })
    rig.fake.reply(STT, transcript('Vorrei sapere le opzioni.'))
    rig.fake.reply(CHAT, reply([LONG, LONG, LONG, LONG], { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
    const call = placeHeardCall({
      port: rig.port, destination: DID, callerNumber: CALLER, ...options.call,
      caller: { audio: [voice(500, 900)], echo: { delayMs: 120, attenuationDb: 8, filter: 'hybrid' }, hangupAtMs: 20_000 },
    })
    await call.ended
    pauses[echoGuard ? 'guarded' : 'unguarded'] = rig.logs.filter((l) => l.msg === 'caller speech over the agent: paused').length
    if (echoGuard) t.notOk(rig.logs.some((l) => l.msg === 'caller barged in'), 'with the guard the echo never cut the reply')
    await rig.settled(t)
  }
  return pauses
}
