import t from 'tap'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { parseWav } from '../../lib/media/wav.ts'
import { BEEP_FILE } from '../../lib/media/beep.ts'
import { unknownTransferTargetMessage } from '../../lib/suggest.ts'
import type { CallRecorder, CallStart, EndInput, MessageInput } from '../../lib/records/types.ts'
import { startTestAgent } from '../helpers/agent.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { speechLike } from '../media-stream/signals.ts'

// The scripts API does what its words say: a message recorded with record() is filed as one,
// "after the tone" gets a tone, an unknown transfer target is named with the valid ones.

const DID = '+390212345678'

function capture (): { begin: (start: CallStart) => CallRecorder, messages: MessageInput[], ends: EndInput[] } {
  const messages: MessageInput[] = []
  const ends: EndInput[] = []
  return {
    messages,
    ends,
    begin: (start) => ({
      uuid: start.uuid,
      rejected: () => {},
      answered: () => {},
      contact: () => {},
      turn: () => {},
      latency: () => {},
      message: (m) => { messages.push(m) },
      error: () => {},
      usage: () => {},
      end: async (e) => { ends.push(e) },
    }),
  }
}

async function scriptFile (body: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pa-api-'))
  const path = join(dir, 'script.ts')
  await writeFile(path, `import { defineScript } from 'phone-agent'\nexport default defineScript(async (call) => {\n${body}\n})\n`)
  return path
}

const RECORD = "  await call.answer()\n  const r = await call.record({ maxSeconds: 5, silence: { seconds: 1 }, ...(call.options.record as object) })\n  call.log.info({ path: r?.path ?? null }, 'recorded')\n  await call.hangup()"

for (const mode of ['files', 'stream'] as const) {
  t.test(`${mode} mode: record() files the message by default, after the tone`, async (t) => {
    const records = capture()
    const module = await scriptFile(RECORD)
    const { port } = await startTestAgent(t, {
      scripts: { rec: { module } },
      routes: { [DID]: { script: 'rec' }, '+390212345679': { script: 'rec', options: { record: { asMessage: false, beep: false } } } },
      media: { mode },
    }, { records })
    const fs = new FakeFreeSwitch()
    // Speech-like (the stream's VAD ignores pure tones), starting once the tone is over.
    const caller = { audio: [{ atMs: 900, wav: encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, 1.2, -18) }) }] }
    const result = await fs.placeCall({ port, destination: DID, callerNumber: '+393331234567', caller }).ended
    // The row is opened as the recording starts (a crash cannot lose it), then completed.
    t.match(records.messages, [{ status: 'recording', text: '' }, { recordingPath: records.messages[0]?.recordingPath, durationMs: Number }], 'one message filed without asMessage: true')
    t.equal(records.messages[1]?.status, undefined, 'completed (the default status)')
    t.equal(records.ends.at(-1)?.outcome, 'message_taken')
    const beep = parseWav(await readFile(BEEP_FILE)).samples
    if (mode === 'files') {
      const names = result.apps.map((a) => a.name)
      t.same(names.slice(names.indexOf('answer')), ['answer', 'playback', 'record'], 'the tone is played just before recording')
      t.match(result.played[0]?.path, /\/phone-agent\/beep\.wav$/)
      t.same(parseWav(await readFile(result.played[0]!.path)).samples, beep, 'the shipped tone, copied into the sounds directory')
    } else {
      t.ok(heardBeep(result.heard, beep), 'the caller heard the tone over the stream')
    }

    // Opting out of both.
    const quiet = await fs.placeCall({ port, destination: '+390212345679', callerNumber: '+393331234567', caller }).ended
    t.equal(records.messages.length, 2, 'asMessage: false files nothing')
    t.not(records.ends.at(-1)?.outcome, 'message_taken')
    if (mode === 'files') t.notOk(quiet.apps.some((a) => a.name === 'playback'), 'beep: false plays no tone')
    else t.notOk(heardBeep(quiet.heard, beep), 'beep: false plays no tone')
  })
}

/** Whether a 20 ms stretch from the middle of the tone is among the frames the caller heard. */
function heardBeep (heard: ReadonlyArray<{ samples: Int16Array }>, beep: Int16Array): boolean {
  const middle = beep.subarray(1600, 1760)
  return heard.some((f) => f.samples.length === middle.length && f.samples.every((s, i) => s === middle[i]))
}

t.test('an unknown transfer target is named, with a suggestion and the valid targets', async (t) => {
  t.equal(unknownTransferTargetMessage('recepton', ['reception', 'sales']),
    'unknown transfer target "recepton" (did you mean "reception"?); configured: reception, sales')
  t.equal(unknownTransferTargetMessage('x', []), 'unknown transfer target "x"; none configured (add one under transfers: in the config)')
  t.equal(unknownTransferTargetMessage('a\nb', ['c']), 'unknown transfer target "a?b"; configured: c', 'control characters are not printed')
})

t.test('call.transfer() with a misspelt target says which targets exist', async (t) => {
  const module = await scriptFile("  await call.answer()\n  try { await call.transfer('recepton') } catch (err) { call.log.info({ message: (err as Error).message }, 'transfer failed') }\n  await call.hangup()")
  const { port, logs } = await startTestAgent(t, {
    scripts: { tr: { module } },
    routes: { [DID]: { script: 'tr' } },
    transfers: { reception: { type: 'extension', extension: '1000' } },
  })
  await new FakeFreeSwitch().placeCall({ port, destination: DID, callerNumber: '+393331234567' }).ended
  t.match(logs.find((l) => l.msg === 'transfer failed'), { message: 'unknown transfer target "recepton" (did you mean "reception"?); configured: reception' })
})
