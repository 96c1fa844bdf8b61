import pino from 'pino'
import { OfflineTts } from '/work/main/lib/speech/tts/offline.ts'
const logger = pino({ level: 'debug' })
const tts = await OfflineTts.create({ logger })
console.log(tts.voiceId({ text: 'x', language: 'it-IT' }), tts.voiceId({ text: 'x' }), tts.languages.length)
for (const req of [{ text: 'Hello there, this is a test.' }, { text: 'Buongiorno, come posso aiutarla?', language: 'it-IT' }, { text: 'Hello', voice: 'slt' }]) {
  for await (const c of tts.synthesize(req, {})) console.log(c.sampleRate, c.pcm.length)
}
await tts.close()
console.log('closed', tts.workerRunning)
