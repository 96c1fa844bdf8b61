import t from 'tap'
import { CHAT, DID, STT, reply, speech, startRig, transcript, placeHeardCall } from './helpers.ts'

const RENDER_MS = 600
// ~1 s of audio each with the tone speaker (2 ms per character).
const S1 = 'Prima frase della risposta, abbastanza lunga da durare circa un secondo intero quando viene letta al telefono dal nostro sistema di sintesi vocale.'
const S2 = 'Seconda frase della risposta, anche questa abbastanza lunga da durare circa un secondo intero quando viene letta al telefono dalla sintesi vocale.'
const S3 = 'Terza e ultima frase della risposta, lunga quanto basta perché la sintesi della successiva possa avvenire mentre questa sta ancora suonando al telefono.'

t.test('sentences are synthesised while the previous one plays: no gap when TTS keeps up', async (t) => {
  const renderStarts = new Map<string, number>()
  const rig = await startRig(t, {
    agent: { deadlines: { turnMs: 8000, llmFirstTokenMs: 3000, noInputMs: 3000, ttsFirstAudioMs: 3000, deadAirMs: 3000 }, sentences: { maxChars: 400 } },
    wrapSpeaker: (s) => ({
      render: async (text, o) => {
        if (text === S1 || text === S2 || text === S3) {
          renderStarts.set(text, Date.now())
          await new Promise((resolve) => setTimeout(resolve, RENDER_MS))
        }
        return await s.render(text, o)
      },
    }),
  })
  rig.fake.reply(STT, transcript('Mi spieghi.'))
  rig.fake.reply(CHAT, reply([`${S1} `, `${S2} `, S3], { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  const result = await placeHeardCall({ port: rig.port, destination: DID, caller: { audio: [speech(400)] } }).ended
  const reply3 = result.played.slice(1, 4)
  t.equal(reply3.length, 3, 'three sentences played')
  for (let i = 1; i < reply3.length; i++) {
    const gap = reply3[i]!.startMs - reply3[i - 1]!.endMs
    t.ok(gap < RENDER_MS - 150, `gap before sentence ${i + 1} is ${gap} ms, shorter than one synthesis (${RENDER_MS} ms)`)
  }
  t.ok(renderStarts.get(S2)! < renderStarts.get(S1)! + RENDER_MS + 900, 'sentence 2 was sent to TTS before sentence 1 finished playing')
  await rig.settled(t)
})
