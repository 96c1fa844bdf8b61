import t from 'tap'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { parseWav } from '../../lib/media/wav.ts'
import { readFile } from 'node:fs/promises'
import { startTestAgent } from '../helpers/agent.ts'
import { toneWav } from '../helpers/speaker.ts'

const DID = '+390212345678'

t.test('take-message: greeting, the caller speaks, message recorded, thanks, hangup', async (t) => {
  const { port, logs } = await startTestAgent(t, { routes: { [DID]: { script: 'take-message', language: 'it-IT' } } })
  const fs = new FakeFreeSwitch()
  const call = fs.placeCall({
    port,
    destination: '0212345678',
    callerNumber: '+393331234567',
    callerName: 'Mario Rossi',
  })
  // The caller speaks for 1.5 s once the recording runs (after the greeting and the tone): on
  // the call's clock, however long a loaded machine took to get there.
  const speaker = setInterval(() => {
    if (!call.result.apps.some((a) => a.name === 'record')) return
    clearInterval(speaker)
    call.say(call.nowMs + 100, toneWav(1500, 8000, 300, 12000))
  }, 20)
  const result = await call.ended
  clearInterval(speaker)
  const names = result.apps.map((a) => a.name)
  t.same(names, ['answer', 'playback', 'playback', 'record', 'playback'], 'answer, greeting, the tone, record, thanks')
  t.match(result.played[1]?.path, /\/phone-agent\/beep\.wav$/, 'the tone the greeting promises is played before recording')
  t.equal(result.hungUpBy, 'server')
  t.equal(result.hangupCause, 'NORMAL_CLEARING')
  t.ok(result.exitReceived, 'we said exit after the disconnect notice')
  t.ok(result.linger, 'linger was requested')

  t.equal(result.recordings.length, 1)
  const rec = result.recordings[0]!
  const wav = parseWav(await readFile(rec.path))
  t.equal(wav.sampleRate, 8000)
  // The message holds the caller's 1.5 s of speech (plus what came before it in the recording
  // window), and silence detection ended it about 2 s after the caller stopped.
  const seconds = wav.samples.length / wav.sampleRate
  t.ok(seconds >= 1.5 && seconds < 6, `recording is ${seconds.toFixed(2)} s`)
  // 20 ms frames whose RMS shows the caller's tone (RMS 8485) rather than line silence.
  let loudFrames = 0
  for (let i = 0; i + 160 <= wav.samples.length; i += 160) {
    let sum = 0
    for (let j = i; j < i + 160; j++) sum += wav.samples[j]! ** 2
    if (Math.sqrt(sum / 160) > 3000) loudFrames++
  }
  t.ok(loudFrames * 0.02 >= 1.4, `the caller's 1.5 s of speech is in the file (${(loudFrames * 0.02).toFixed(2)} s loud)`)
  t.match(rec.path, /\/recordings\/\d{4}-\d{2}-\d{2}\/[0-9a-f-]{36}-1\.wav$/)

  const recorded = logs.find((l) => l.msg === 'message recorded')
  t.ok(recorded, 'the script logged the message')
  t.equal(recorded?.call, result.uuid, 'log lines carry the call id')
  t.equal(recorded?.did, DID)
  t.equal(fs.activeCalls, 0)
})

t.test('take-message with the real offline voice: speech synthesised once, reused by the next call', async (t) => {
  const { createSpeechServices } = await import('../../lib/speech/services.ts')
  const { buildConfig } = await import('../../lib/config/load.ts')
  const { captureLogs } = await import('../helpers/logs.ts')
  let speech: Awaited<ReturnType<typeof createSpeechServices>> | undefined
  let renders = 0
  // Texts shorter than the built-in ones keep the two calls quick; still real speech, over 3 s.
  const options = { greeting: 'Hello, thank you for calling. Please leave a message after the tone.', thanks: 'Thank you.', noMessage: 'Goodbye.' }
  const { port, soundsDir } = await startTestAgent(t, { routes: { [DID]: { script: 'take-message', language: 'en-US', options } } }, {
    speaker: (dir) => ({
      render: async (text, options) => {
        speech ??= await createSpeechServices(buildConfig({ media: { soundsDir: dir } }, process.cwd()), captureLogs().logger)
        const r = await speech.speaker.render(text, options)
        if (!r.cached) renders++
        return r
      },
    }),
  })
  t.teardown(async () => { await speech?.close() })
  const rendersAtStart = renders // the apology, busy message and script phrases, at start-up
  const fs = new FakeFreeSwitch()
  const first = await fs.placeCall({ port, destination: DID, caller: { audio: [{ atMs: 500, wav: toneWav(600, 8000, 300, 12000) }] } }).ended
  const played = first.played.map((p) => p.path).filter((p) => !p.endsWith('/beep.wav'))
  t.equal(played.length, 2, 'greeting and thanks played (and the tone)')
  for (const path of played) {
    t.ok(path.startsWith(soundsDir + '/cache/'), 'speech is played from sounds/cache/')
    const wav = parseWav(await readFile(path))
    t.equal(wav.sampleRate, 8000)
    t.equal(wav.channels ?? 1, 1)
  }
  const greeting = parseWav(await readFile(played[0]!))
  t.ok(greeting.samples.length / 8000 > 3, 'the greeting is real speech of plausible length')
  t.equal(renders - rendersAtStart, 0, 'greeting and thanks were pre-rendered at start-up: the call synthesised nothing')
  const second = await fs.placeCall({ port, destination: DID, caller: { audio: [{ atMs: 500, wav: toneWav(600, 8000, 300, 12000) }] } }).ended
  t.same(second.played.map((p) => p.path).filter((p) => !p.endsWith('/beep.wav')), played, 'the second call plays the same files')
  t.equal(renders - rendersAtStart, 0, 'and neither did the second')
  t.ok(rendersAtStart >= 3, 'the script phrases were rendered at start-up')
})
