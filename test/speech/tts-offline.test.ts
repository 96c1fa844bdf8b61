import t from 'tap'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, chmodSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { pino, type Logger } from 'pino'
import { OfflineTts } from '../../lib/speech/tts/offline.ts'
import { FLITE_VOICES } from '../../lib/speech/tts/offline-flite.ts'
import { detectEspeak, espeakVoiceFor, findExecutable, parseVoiceList, type Espeak } from '../../lib/speech/tts/offline-espeak.ts'
import { isPhoneAgentError } from '../../lib/errors.ts'
import type { PcmChunk, TtsRequest } from '../../lib/speech/types.ts'
import { int16FromBytes, rms } from '../../lib/media/pcm.ts'

// Every temp file the provider makes lands here, so the end of the file can prove none is left.
const privateTmp = mkdtempSync(join(tmpdir(), 'voice-offline-test-'))
process.env.TMPDIR = privateTmp
t.teardown(() => rmSync(privateTmp, { recursive: true, force: true }))

interface Sink { logger: Logger, lines: Array<Record<string, unknown>> }

function sink (): Sink {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      cb()
    },
  })
  return { logger: pino({ level: 'debug' }, stream), lines }
}

async function speak (tts: OfflineTts, request: TtsRequest, signal?: AbortSignal): Promise<{ samples: Int16Array, rate: number }> {
  const chunks: PcmChunk[] = []
  for await (const c of tts.synthesize(request, signal ? { signal } : {})) chunks.push(c)
  // Batch engines yield exactly one chunk.
  if (chunks.length !== 1) throw new Error(`expected one chunk, got ${chunks.length}`)
  const c = chunks[0] as PcmChunk
  return { samples: int16FromBytes(c.pcm), rate: c.sampleRate }
}

async function rejection (p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

/** Every provider made here; the last test proves each one's worker thread is gone. */
const made: OfflineTts[] = []

function make (t: { teardown (fn: () => unknown): void }, options: ConstructorParameters<typeof OfflineTts>[0]): OfflineTts {
  const tts = new OfflineTts(options)
  made.push(tts)
  t.teardown(() => tts.close())
  return tts
}

const SENTENCE = 'Hello, this is a test of the offline voice.'

t.test('flite speaks a sentence: 8 kHz, not silent, plausible length', async (t) => {
  const { logger, lines } = sink()
  const tts = make(t, { logger })
  const { samples, rate } = await speak(tts, { text: SENTENCE })
  t.equal(rate, 8000, 'kal is an 8 kHz voice')
  const seconds = samples.length / rate
  // About 2.5 words per second: 9 words, anything from 1.5 to 8 s is speech, not a glitch.
  t.ok(seconds > 1.5 && seconds < 8, `duration ${seconds.toFixed(2)} s`)
  t.ok(rms(samples) > 0.01, `not silent (rms ${rms(samples).toFixed(3)})`)
  t.match(lines.find((l) => l.msg === 'offline speech synthesized'), { engine: 'flite', voice: 'kal', chars: SENTENCE.length })
  await tts.close()
  t.equal(tts.fliteProcesses, 0, 'flite process exited on close')
})

t.test('every offered flite voice speaks', async (t) => {
  const tts = make(t, { logger: sink().logger })
  for (const voice of FLITE_VOICES) {
    const { samples, rate } = await speak(tts, { text: 'Good morning.', voice })
    t.equal(rate, voice === 'kal' ? 8000 : 16000, `${voice} rate`)
    t.ok(rms(samples) > 0.01, `${voice} is not silent`)
  }
  t.equal(tts.fliteProcesses, 1, 'one long-lived process served every job')
})

/** The pid of this process's flite child (lib/speech/tts/flite-child.mjs), from /proc. */
function fliteChildPid (): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('flite-child')) return Number(entry)
    } catch {}
  }
  return undefined
}

t.test('a flite process that dies during a job (a crash) is replaced and the job tried once more', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const { logger, lines } = sink()
  const tts = make(t, { logger })
  await speak(tts, { text: 'Good morning.' })
  const pid = fliteChildPid()
  t.ok(pid !== undefined, 'the child is up')
  // About ten minutes of speech (a few seconds of work): the child is still at it when it is killed.
  const spoken = speak(tts, { text: 'This is a long sentence about nothing at all. '.repeat(300) })
  await new Promise((resolve) => setTimeout(resolve, 150))
  process.kill(pid as number, 'SIGSEGV')
  const { samples } = await spoken
  t.ok(samples.length > 8000 * 300, `the whole text spoken by a new process (${(samples.length / 8000).toFixed(1)} s)`)
  t.match(lines.find((l) => l.msg === 'flite process died during a job: retrying it once in a new process'), { level: 40, voice: 'kal' })
  t.not(fliteChildPid(), pid, 'a new process')
})

t.test('hostile text is only text: no flag injection, no shell', async (t) => {
  const tts = make(t, { logger: sink().logger })
  for (const text of ['-voice rms --help', '$(touch /tmp/pwned) `id`; rm -rf /', 'Caf\u00e9 \u20ac5 \u65e5\u672c', 'nul\u0000and\u0007bell']) {
    const { samples } = await speak(tts, { text })
    t.ok(samples.length > 0, `spoke ${JSON.stringify(text)}`)
  }
})

t.test('empty text is a permanent error', async (t) => {
  const tts = make(t, { logger: sink().logger })
  const err = await rejection(speak(tts, { text: ' \n\t\u0001 ' }))
  t.ok(isPhoneAgentError(err, 'PROVIDER_BAD_REQUEST'))
  t.equal(tts.fliteProcesses, 0, 'no process started for nothing')
})

t.test('unknown voices: config error at construction, default voice per request', async (t) => {
  t.throws(() => new OfflineTts({ voice: 'en-US-Neural2-D', logger: sink().logger }), { code: 'CONFIG_INVALID', field: 'speech.tts.offline.voice' })
  const { logger, lines } = sink()
  const tts = make(t, { voice: 'slt', logger })
  t.equal(tts.voiceId({ text: 'x' }), 'flite/slt')
  t.equal(tts.voiceId({ text: 'x', voice: 'rms' }), 'flite/rms')
  t.equal(tts.voiceId({ text: 'x', voice: 'nope' }), 'flite/slt', 'names the voice actually used')
  await speak(tts, { text: 'One.', voice: 'nope' })
  await speak(tts, { text: 'Two.', voice: 'nope' })
  t.equal(lines.filter((l) => l.msg === 'unknown offline voice; using the default').length, 1, 'warned once')
})

t.test('abort mid-synthesis kills the flite process; the next job gets a fresh one', async (t) => {
  const tts = make(t, { logger: sink().logger })
  await speak(tts, { text: 'Warm up.' })
  const long = Array.from({ length: 60 }, (_, i) => `This is sentence number ${i + 1} of a very long announcement.`).join(' ')
  const controller = new AbortController()
  const pending = speak(tts, { text: long }, controller.signal)
  // The job is running once its temp directory exists (it is removed when the job ends).
  while (!readdirSync(privateTmp).some((n) => n.startsWith('phone-agent-flite-'))) await new Promise((resolve) => setImmediate(resolve))
  controller.abort()
  const err = await rejection(pending)
  t.ok(isPhoneAgentError(err, 'CALL_ABORTED'), 'rejects with the abort reason')
  while (tts.fliteProcesses > 0) await new Promise((resolve) => setTimeout(resolve, 5))
  t.pass('the busy process exited')
  const { samples } = await speak(tts, { text: 'Still here.' })
  t.ok(rms(samples) > 0.01, 'a new process speaks')
})

t.test('a stuck run times out, frees the queue and restarts the process', async (t) => {
  const tts = make(t, { logger: sink().logger, timeoutMs: 1 })
  const long = 'This sentence is long enough that flite needs more than a millisecond. '.repeat(20)
  const err = await rejection(speak(tts, { text: long }))
  t.ok(isPhoneAgentError(err, 'TTS_FAILED'))
  t.match((err as Error).message, /did not finish within 1 ms/)
  while (tts.fliteProcesses > 0) await new Promise((resolve) => setTimeout(resolve, 5))
  t.pass('the stuck process was killed')
})

t.test('aborting a queued job leaves the running one alone', async (t) => {
  const tts = make(t, { logger: sink().logger })
  const first = speak(tts, { text: 'First in line.' })
  const controller = new AbortController()
  const second = speak(tts, { text: 'Second in line.' }, controller.signal)
  controller.abort(new Error('changed my mind'))
  const err = await rejection(second)
  t.ok(isPhoneAgentError(err, 'CALL_ABORTED'))
  t.equal((err as Error).cause instanceof Error && ((err as Error).cause as Error).message, 'changed my mind', 'reason kept as cause')
  const { samples } = await first
  t.ok(samples.length > 0, 'the running job finished')
})

t.test('close() rejects queued jobs and refuses new ones', async (t) => {
  const tts = make(t, { logger: sink().logger })
  const a = rejection(speak(tts, { text: 'One two three.' }))
  const b = rejection(speak(tts, { text: 'Four five six.' }))
  await tts.close()
  t.ok(isPhoneAgentError(await a, 'TTS_FAILED'))
  t.ok(isPhoneAgentError(await b, 'TTS_FAILED'))
  t.ok(isPhoneAgentError(await rejection(speak(tts, { text: 'After.' })), 'TTS_FAILED'))
  t.equal(tts.fliteProcesses, 0)
})

t.test('without espeak-ng other languages use the English voice and warn once', async (t) => {
  const { logger, lines } = sink()
  const tts = make(t, { logger })
  t.equal(tts.voiceId({ text: 'x', language: 'it-IT' }), 'flite/kal')
  t.same(tts.languages, ['en'])
  await speak(tts, { text: 'Buongiorno.', language: 'it-IT' })
  await speak(tts, { text: 'Arrivederci.', language: 'it-IT' })
  const warnings = lines.filter((l) => l.level === 40)
  t.equal(warnings.length, 1)
  t.match(warnings[0], { language: 'it-it', msg: 'no offline voice for this language (install espeak-ng); using the English voice' })
})

t.test('espeak-ng voice list parsing and language choice', async (t) => {
  const list = [
    'Pty Language       Age/Gender VoiceName          File                 Other Languages',
    ' 5  de              --/M      German             gmw/de               ',
    ' 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)',
    ' 5  fr-fr           --/M      French_(France)    roa/fr               (fr 5)',
    ' 5  it              --/M      Italian            roa/it               ',
    ' 5  pt-br           --/M      Portuguese_(Brazil) roa/pt-BR            (pt 6)',
  ].join('\n')
  const languages = parseVoiceList(list)
  t.same([...languages].sort(), ['de', 'en', 'en-us', 'fr', 'fr-fr', 'it', 'pt', 'pt-br'])
  const espeak: Espeak = { path: '/bin/false', languages }
  const table: Array<[string, string | undefined]> = [
    ['it-IT', 'it'], ['de-AT', 'de'], ['fr-FR', 'fr-fr'], ['fr-CA', 'fr'], ['pt-BR', 'pt-br'], ['pt-PT', 'pt'],
    ['ja-JP', undefined], ['it;rm -rf', undefined], ['-v', undefined],
  ]
  for (const [tag, voice] of table) t.equal(espeakVoiceFor(espeak, tag), voice, tag)
})

/** A stand-in espeak-ng: records argv and stdin, answers --voices, writes a streaming-style WAV. */
function fakeEspeak (dir: string): { path: string, calls: () => Array<{ args: string[], text: string }> } {
  const path = join(dir, 'espeak-ng')
  const log = join(dir, 'calls.jsonl')
  writeFileSync(path, `#!${process.execPath}
const fs = require('node:fs')
const args = process.argv.slice(2)
if (args[0] === '--voices') {
  console.log('Pty Language       Age/Gender VoiceName          File                 Other Languages')
  console.log(' 5  it              --/M      Italian            roa/it               ')
  console.log(' 5  de              --/M      German             gmw/de               ')
  process.exit(0)
}
let text = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (d) => { text += d })
process.stdin.on('end', () => {
  fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ args, text }) + '\\n')
  if (text.includes('FAIL')) { process.stderr.write('boom'); process.exit(1) }
  if (text.includes('SLOW')) { setTimeout(() => {}, 60000); return }
  const n = 11025
  const head = Buffer.alloc(44)
  head.write('RIFF', 0); head.writeUInt32LE(0x7ffff024, 4); head.write('WAVEfmt ', 8)
  head.writeUInt32LE(16, 16); head.writeUInt16LE(1, 20); head.writeUInt16LE(1, 22)
  head.writeUInt32LE(22050, 24); head.writeUInt32LE(44100, 28); head.writeUInt16LE(2, 32); head.writeUInt16LE(16, 34)
  head.write('data', 36); head.writeUInt32LE(0x7ffff000, 40)
  const body = Buffer.alloc(n * 2)
  for (let i = 0; i < n; i++) body.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * 440 * i / 22050)), i * 2)
  process.stdout.write(Buffer.concat([head, body]))
})
`)
  chmodSync(path, 0o755)
  return {
    path,
    calls: () => {
      try {
        return readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { args: string[], text: string })
      } catch {
        return []
      }
    },
  }
}

t.test('espeak-ng (stand-in binary): argv, stdin, routing, failures, abort', async (t) => {
  const dir = mkdtempSync(join(privateTmp, 'fake-espeak-'))
  const fake = fakeEspeak(dir)
  t.equal(await findExecutable('espeak-ng', `relative/dir:${dir}`), fake.path, 'found on PATH; relative entries ignored')
  t.equal(await findExecutable('espeak-ng', 'relative/dir'), undefined)
  const espeak = await detectEspeak({ path: fake.path })
  t.ok(espeak)
  const { logger } = sink()
  const tts = make(t, { espeak, logger })
  t.equal(tts.voiceId({ text: 'x', language: 'it-IT' }), 'espeak-ng/it')
  t.equal(tts.voiceId({ text: 'x', language: 'de-DE' }), 'espeak-ng/de')
  t.equal(tts.voiceId({ text: 'x', language: 'en-GB' }), 'flite/kal', 'English stays on flite')
  t.equal(tts.voiceId({ text: 'x', language: 'ja-JP' }), 'flite/kal', 'languages espeak lacks fall back')
  t.same(tts.languages, ['en', 'it', 'de'])

  const hostile = '-v en $(id) "quoted" \u00e8 \u00df'
  const { samples, rate } = await speak(tts, { text: hostile, language: 'it-IT' })
  t.equal(rate, 22050)
  t.equal(samples.length, 11025, 'placeholder sizes clamped to what was written')
  t.same(fake.calls()[0], { args: ['-v', 'it', '-b', '1', '--stdin', '--stdout'], text: hostile }, 'text only on stdin')

  const failed = await rejection(speak(tts, { text: 'FAIL please', language: 'de-DE' }))
  t.ok(isPhoneAgentError(failed, 'TTS_FAILED'))
  t.match(((failed as Error).cause as Error).message, 'boom', 'stderr kept as the cause')

  const controller = new AbortController()
  const slow = speak(tts, { text: 'SLOW', language: 'it-IT' }, controller.signal)
  while (fake.calls().length < 3) await new Promise((resolve) => setTimeout(resolve, 5))
  controller.abort()
  t.ok(isPhoneAgentError(await rejection(slow), 'CALL_ABORTED'), 'abort kills the child')
})

t.test('detectEspeak: configured path must work, PATH absence is fine', async (t) => {
  const missing = await rejection(detectEspeak({ path: join(privateTmp, 'no-such-espeak') }))
  t.ok(isPhoneAgentError(missing, 'CONFIG_INVALID'))
  t.equal(await detectEspeak({ searchPath: privateTmp }), undefined)
})

const installed = await detectEspeak()
const skipReal = installed === undefined ? 'espeak-ng not installed (apt-get install espeak-ng): real-binary test skipped' : false

t.test('real espeak-ng: Italian and German', { skip: skipReal }, async (t) => {
  const espeak = installed as Espeak
  const tts = make(t, { espeak, logger: sink().logger })
  for (const [language, text] of [['it-IT', 'Buongiorno, come posso aiutarla?'], ['de-DE', 'Guten Tag, wie kann ich helfen?']] as const) {
    t.equal(tts.voiceId({ text, language }), `espeak-ng/${language.slice(0, 2)}`)
    const { samples, rate } = await speak(tts, { text, language })
    const seconds = samples.length / rate
    t.ok(seconds > 1 && seconds < 8, `${language}: ${seconds.toFixed(2)} s`)
    t.ok(rms(samples) > 0.01, `${language}: not silent`)
  }
  t.equal(tts.fliteProcesses, 0, 'espeak-ng needs no flite process')
})

t.test('a voice left open, idle, does not keep its process alive', async (t) => {
  const script = fileURLToPath(new URL('../fixtures/offline-voice-left-open.ts', import.meta.url))
  // The bound only catches a hang (a ref'd child, channel or pipe keeps a process up for good).
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TMPDIR: privateTmp } })
  t.match(r.stdout, /spoke \d+ bytes/, r.stderr)
  t.equal(r.signal, null, 'exited on its own, not killed at the timeout')
  t.equal(r.status, 0)
})

t.test('no temp files left behind', async (t) => {
  const left = readdirSync(privateTmp).filter((name) => name.startsWith('phone-agent-flite-'))
  t.same(left, [])
})

t.test('no worker thread, child process or timer left running', async (t) => {
  // An idle (unref'd) worker does not show in getActiveResourcesInfo(): count them ourselves.
  t.same(made.map((tts) => tts.fliteProcesses), made.map(() => 0), `all ${made.length} providers closed their worker`)
  // A child's process handle closes a tick after its 'close' event: give handles a moment.
  const until = Date.now() + 5000
  let resources = process.getActiveResourcesInfo()
  while (Date.now() < until && resources.some((r) => r === 'ProcessWrap')) {
    await new Promise((resolve) => setImmediate(resolve))
    resources = process.getActiveResourcesInfo()
  }
  t.notOk(resources.includes('ProcessWrap'), `no child process (${resources.join(', ')})`)
  t.notOk(resources.includes('Timeout'), 'no timer')
})
