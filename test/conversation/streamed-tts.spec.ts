import t from 'tap'
import type { Speaker } from '../../lib/call/context.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { speechLike } from '../media-stream/signals.ts'
import { CALLER, CHAT, DID, STT, placeHeardCall, reply, startRig, transcript } from './helpers.ts'

/**
 * Stream mode speaks a sentence from its first synthesised chunk: the caller hears the start of
 * the reply while the rest is still being produced (first audio does not wait for the sentence).
 */
t.test('a streamed sentence plays from its first chunk, before its synthesis has finished', async (t) => {
  const chunkTimes: number[] = []
  const slowStream = (speaker: Speaker): Speaker => ({
    render: async (text, options) => await speaker.render(text, options),
    async * stream (text) {
      if (!text.startsWith('Ecco')) { yield * (await toneChunks(speaker, text)); return }
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 300))
        chunkTimes.push(Date.now())
        const samples = new Int16Array(1600)
        for (let j = 0; j < samples.length; j++) samples[j] = Math.round(8000 * Math.sin(2 * Math.PI * 440 * j / 8000))
        yield { pcm: Buffer.from(samples.buffer), sampleRate: 8000 }
      }
    },
  })
  const rig = await startRig(t, { media: { mode: 'stream' }, wrapSpeaker: slowStream })
  rig.fake.reply(STT, transcript('Mi dica.'))
  rig.fake.reply(CHAT, reply('Ecco la risposta lunga.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  const call = placeHeardCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [{ atMs: 500, wav: encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, 0.8, -18) }) }] } })
  const t0 = Date.now()
  await call.ended
  t.equal(chunkTimes.length, 5, 'the sentence came in five chunks, 300 ms apart')
  const replyHeard = call.ear.firstHeard(chunkTimes[0]! - t0 - 50, 200)
  t.ok(replyHeard !== undefined, 'the reply was heard')
  t.ok(replyHeard!.playMs + t0 < chunkTimes[4]!, `heard ${chunkTimes[4]! - (replyHeard!.playMs + t0)} ms before the last chunk was produced`)
  await rig.settled(t)
})

async function toneChunks (speaker: Speaker, text: string): Promise<Array<{ pcm: Buffer, sampleRate: number }>> {
  const { readFile } = await import('node:fs/promises')
  const { parseWav } = await import('../../lib/media/wav.ts')
  const wav = parseWav(await readFile((await speaker.render(text, {})).path))
  const samples = wav.samples instanceof Int16Array ? wav.samples : new Int16Array(0)
  return [{ pcm: Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength), sampleRate: wav.sampleRate }]
}
