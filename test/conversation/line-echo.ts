import type { Test } from 'tap'
import { rename, writeFile } from 'node:fs/promises'
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
 * vetoed anyway). A reply's sentences come from `stream`, as stream mode takes them from the real
 * cache (lib/speech/services.ts), so no reply reads a file. Until helper-54 looked (twenty-second
 * session) the replies read the tone speaker's files, voiced once a file: the speaker underneath
 * writes its tone again on every render, so from a sentence's second render on the file was the
 * tone (9 of a matrix call's 10 reply sentences), and the guard was hardly tested on a voice's
 * echo. `render` (the greeting, played from its file) voices the file through a temp file of its
 * own and a rename, so a render-ahead of the same text never finds it half written.
 */
const speech = (text: string): Int16Array => speechLike(8000, Math.max(0.2, text.length * 0.004), -16, { f0: 120, seed: text.length })

/** Only `render`, voiced: every sentence is read from its file (the greeting played before anyone listens, as it always was). */
export const voicedFiles = (speaker: Speaker): Speaker => ({
  render: async (text, options) => {
    const r = await speaker.render(text, options)
    const tmp = `${r.path}.${process.pid}.${Math.random().toString(36).slice(2)}.voiced.tmp`
    await writeFile(tmp, encodeWav({ sampleRate: 8000, channels: 1, samples: speech(text) }))
    await rename(tmp, r.path)
    return r
  },
})

export const voiced = (speaker: Speaker): Speaker => ({
  ...voicedFiles(speaker),
  stream: async function * (text) {
    const samples = speech(text)
    yield { pcm: Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength), sampleRate: 8000 }
  },
})

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
