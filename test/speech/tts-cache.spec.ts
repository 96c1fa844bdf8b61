import t from 'tap'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import { SpeechCache, MAX_TEXT_BYTES } from '../../lib/speech/tts-cache.ts'
import { OfflineTts } from '../../lib/speech/tts/offline.ts'
import { PhoneAgentError, isPhoneAgentError } from '../../lib/errors.ts'
import type { PcmChunk, TtsProvider, TtsRequest } from '../../lib/speech/types.ts'
import { parseWav } from '../../lib/media/wav.ts'
import { bytesFromInt16, rms } from '../../lib/media/pcm.ts'
import { sine, toneEnergy, meanSquare, db, middle } from '../media/signals.ts'

function quiet (): Logger {
  return pino({ level: 'silent' }, new Writable({ write (_c, _e, cb) { cb() } }))
}

function soundsDir (t: { teardown (fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'voice-cache-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * A provider that counts calls and yields a 1 kHz tone, one second per 10 characters, at
 * `rate`. `gate` (when set) holds synthesis until it resolves or the signal aborts.
 */
class ToneProvider implements TtsProvider {
  readonly name = 'tone'
  calls: TtsRequest[] = []
  aborted = 0
  gate: Promise<void> | undefined
  failWith: unknown
  empty = false
  constructor (readonly rate = 16000) {}

  voiceId (request: TtsRequest): string {
    return `tone/${request.voice ?? 'default'}`
  }

  async * synthesize (request: TtsRequest, options: { signal?: AbortSignal }): AsyncIterable<PcmChunk> {
    this.calls.push(request)
    if (this.gate !== undefined) {
      const signal = options.signal
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          this.aborted++
          reject(signal?.reason)
        }
        signal?.addEventListener('abort', onAbort, { once: true })
        void this.gate?.then(() => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        })
      })
    }
    if (this.failWith !== undefined) throw this.failWith
    if (this.empty) return
    const samples = sine(1000, this.rate, request.text.length / 10)
    // Two chunks, as a streaming provider would send them.
    const half = Math.floor(samples.length / 2)
    yield { pcm: bytesFromInt16(samples.subarray(0, half)), sampleRate: this.rate }
    yield { pcm: bytesFromInt16(samples.subarray(half)), sampleRate: this.rate }
  }
}

function gate (): { promise: Promise<void>, open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => { open = resolve })
  return { promise, open }
}

function cacheFiles (dir: string): string[] {
  return readdirSync(join(dir, 'cache')).sort()
}

async function rejection (p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

t.test('renders 8 kHz mono 16-bit WAV under cache/<hash>.wav from a 16 kHz provider', async (t) => {
  const dir = soundsDir(t)
  const provider = new ToneProvider(16000)
  const cache = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  const text = 'Twenty characters!!'
  const out = await cache.render(text)
  t.equal(out.cached, false)
  t.match(out.file, /^cache\/[0-9a-f]{40}\.wav$/)
  t.equal(out.path, join(dir, out.file))
  const audio = parseWav(readFileSync(out.path))
  t.equal(audio.sampleRate, 8000)
  t.equal(audio.channels, 1)
  t.equal(audio.samples.length, 15200, '1.9 s at 8 kHz')
  t.equal(out.durationMs, 1900)
  const tone = db(toneEnergy(middle(audio.samples), 1000, 8000) / meanSquare(middle(audio.samples)))
  t.ok(tone > -0.5, 'still a 1 kHz tone after resampling')
  t.equal(cache.sizeBytes, statSync(out.path).size)
})

t.test('a second render is a hit: no second synthesis, also after a restart', async (t) => {
  const dir = soundsDir(t)
  const provider = new ToneProvider()
  const first = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  const a = await first.render('Hello there.')
  const b = await first.render('  Hello there.\n')
  t.equal(b.cached, true)
  t.equal(b.path, a.path, 'surrounding whitespace does not change the key')
  t.equal(b.durationMs, a.durationMs)
  t.equal(provider.calls.length, 1)

  const restarted = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  const c = await restarted.render('Hello there.')
  t.equal(c.cached, true, 'file on disk reused by a new process')
  t.equal(c.durationMs, a.durationMs)
  t.equal(provider.calls.length, 1, 'never synthesised twice')
  t.equal(restarted.sizeBytes, first.sizeBytes)
})

t.test('a name the index does not know: the provider is asked at once, a file another process wrote is still served', async (t) => {
  const dir = soundsDir(t)
  const provider = new ToneProvider()
  const cache = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  await cache.render('Scanned first.')
  // Another process sharing the directory writes a sentence this one has never seen.
  const other = new SpeechCache({ provider: new ToneProvider(), soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  const written = await other.render('Written elsewhere.')
  const g = gate()
  provider.gate = g.promise
  const out = await cache.render('Written elsewhere.')
  t.equal(provider.calls.length, 2, 'the provider was asked before the disk answered')
  t.equal(provider.aborted, 1, 'and cancelled once the file was found')
  t.equal(out.cached, true)
  t.equal(out.path, written.path)
  t.equal(out.durationMs, written.durationMs)
  provider.gate = undefined
  t.equal((await cache.render('Written elsewhere.')).cached, true, 'now in the index')
  t.equal(provider.calls.length, 2)
})

t.test('a known file deleted behind our back (retention, another process) is never served', async (t) => {
  const dir = soundsDir(t)
  const provider = new ToneProvider()
  const cache = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  const first = await cache.render('Kept a while.')
  rmSync(first.path)
  const again = await cache.render('Kept a while.')
  t.equal(again.cached, false, 'synthesised again')
  t.equal(provider.calls.length, 2)
  t.equal(statSync(again.path).size, cache.sizeBytes, 'the file is back, counted once')
})

t.test('the key covers provider, voice, language and text; text never reaches the path', async (t) => {
  const dir = soundsDir(t)
  const provider = new ToneProvider()
  const cache = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  const keys = new Set([
    cache.key('Hello'),
    cache.key('Hello', { voice: 'other' }),
    cache.key('Hello', { language: 'it-IT' }),
    cache.key('Hello.'),
  ])
  t.equal(keys.size, 4)
  const other = new SpeechCache({ provider: Object.assign(new ToneProvider(), { name: 'tone2' }), soundsDir: dir, maxBytes: 1, logger: quiet() })
  t.not(other.key('Hello'), cache.key('Hello'), 'provider name is in the key')
  const wide = new SpeechCache({ provider, soundsDir: dir, maxBytes: 1, sampleRate: 16000, logger: quiet() })
  t.not(wide.key('Hello'), cache.key('Hello'), 'output rate is in the key')
  const out = await cache.render('../../../etc/passwd\u0000; rm -rf /')
  t.equal(out.path, join(dir, 'cache', `${cache.key('../../../etc/passwd\u0000; rm -rf /')}.wav`))
})

t.test('concurrent identical requests share one synthesis', async (t) => {
  const dir = soundsDir(t)
  const provider = new ToneProvider()
  const g = gate()
  provider.gate = g.promise
  const cache = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  const all = Promise.all([cache.render('Same words.'), cache.render('Same words.'), cache.render('Same words.')])
  while (provider.calls.length === 0) await new Promise((resolve) => setImmediate(resolve))
  g.open()
  const results = await all
  t.equal(provider.calls.length, 1)
  t.same(new Set(results.map((r) => r.path)).size, 1)
  t.same(results.map((r) => r.cached), [false, false, false], 'all three waited for the synthesis')
})

t.test('one waiter aborting does not cancel the others; the last one does', async (t) => {
  const dir = soundsDir(t)
  const provider = new ToneProvider()
  const g = gate()
  provider.gate = g.promise
  const cache = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  const quitter = new AbortController()
  const stayer = cache.render('Shared.')
  const leaving = cache.render('Shared.', { signal: quitter.signal })
  while (provider.calls.length === 0) await new Promise((resolve) => setImmediate(resolve))
  quitter.abort()
  t.ok(isPhoneAgentError(await rejection(leaving), 'CALL_ABORTED'))
  t.equal(provider.aborted, 0, 'synthesis goes on for the other waiter')
  g.open()
  t.equal((await stayer).cached, false)

  const both = [new AbortController(), new AbortController()]
  provider.gate = gate().promise
  const p = both.map((c) => cache.render('Abandoned.', { signal: c.signal }))
  while (provider.calls.length === 1) await new Promise((resolve) => setImmediate(resolve))
  for (const c of both) c.abort()
  for (const r of p) t.ok(isPhoneAgentError(await rejection(r), 'CALL_ABORTED'))
  while (provider.aborted === 0) await new Promise((resolve) => setImmediate(resolve))
  t.equal(provider.aborted, 1, 'the provider saw the abort once nobody waited')
})

t.test('an aborted render leaves no file, not even a temp file', async (t) => {
  const dir = soundsDir(t)
  const provider = new ToneProvider()
  provider.gate = new Promise(() => {})
  const cache = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  const controller = new AbortController()
  const p = cache.render('Never finished.', { signal: controller.signal })
  while (provider.calls.length === 0) await new Promise((resolve) => setImmediate(resolve))
  controller.abort(new PhoneAgentError('CALL_HANGUP', 'caller hung up'))
  const err = await rejection(p)
  t.ok(isPhoneAgentError(err, 'CALL_HANGUP'), 'the signal reason is the error')
  t.same(cacheFiles(dir), [])
  t.ok(isPhoneAgentError(await rejection(cache.render('x', { signal: controller.signal })), 'CALL_HANGUP'), 'already aborted: refused at once')
  t.equal(provider.calls.length, 1)
})

t.test('LRU eviction keeps the directory under maxBytes; a hit refreshes a file', async (t) => {
  const dir = soundsDir(t)
  const provider = new ToneProvider(8000)
  // Each 10-character text is one second: 16044 bytes. Room for three.
  const cache = new SpeechCache({ provider, soundsDir: dir, maxBytes: 3 * 16044, logger: quiet() })
  const a = await cache.render('aaaaaaaaaa')
  const b = await cache.render('bbbbbbbbbb')
  const c = await cache.render('cccccccccc')
  t.equal(cacheFiles(dir).length, 3)
  t.equal((await cache.render('aaaaaaaaaa')).cached, true, 'touch a: b is now the oldest')
  const d = await cache.render('dddddddddd')
  const names = cacheFiles(dir)
  t.same(names, [a, c, d].map((r) => r.file.slice('cache/'.length)).sort(), 'b was evicted')
  t.ok(!names.includes(b.file.slice('cache/'.length)))
  t.ok(cache.sizeBytes <= 3 * 16044)
  t.equal((await cache.render('bbbbbbbbbb')).cached, false, 'an evicted file is synthesised again')
  t.equal(provider.calls.length, 5)
  t.equal(cacheFiles(dir).length, 3)
})

t.test('two processes on one directory (server.workers): a file the other already evicted is no warning', async (t) => {
  const dir = soundsDir(t)
  const warnings: string[] = []
  const capture = pino({ level: 'warn' }, new Writable({ write (chunk: Buffer, _e, cb) { warnings.push((JSON.parse(chunk.toString()) as { msg: string }).msg); cb() } }))
  const first = new SpeechCache({ provider: new ToneProvider(8000), soundsDir: dir, maxBytes: 3 * 16044, logger: capture })
  const written = [await first.render('aaaaaaaaaa'), await first.render('bbbbbbbbbb'), await first.render('cccccccccc')]
  // Distinct times (a file system's mtime can tie within a test), so the second's scan orders them a, b, c.
  written.forEach((r, i) => { utimesSync(join(dir, r.file), 1000 + i, 1000 + i) })
  // A second worker starts and indexes the same three files.
  const second = new SpeechCache({ provider: new ToneProvider(8000), soundsDir: dir, maxBytes: 3 * 16044, logger: capture })
  // The newest file: the second's index is then a, b, c from its scan, a the oldest there too.
  t.equal((await second.render('cccccccccc')).cached, true, "the second sees the first one's files")
  await first.render('dddddddddd') // the first evicts a
  await second.render('eeeeeeeeee') // the second evicts a too: already gone
  t.same(warnings, [], 'a file the other process deleted first is no warning')
  t.ok(cacheFiles(dir).length <= 4, `the directory stays near the bound (${cacheFiles(dir).length} files)`)
})

t.test('LRU order survives a restart (mtime), and the scan enforces the bound', async (t) => {
  const dir = soundsDir(t)
  const provider = new ToneProvider(8000)
  const big = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  const files = []
  for (const text of ['1111111111', '2222222222', '3333333333']) files.push(await big.render(text))
  // Make "2" the oldest, "1" the newest.
  const now = Date.now() / 1000
  utimesSync(files[1]?.path ?? '', now - 300, now - 300)
  utimesSync(files[2]?.path ?? '', now - 200, now - 200)
  utimesSync(files[0]?.path ?? '', now - 100, now - 100)
  const small = new SpeechCache({ provider, soundsDir: dir, maxBytes: 2 * 16044, logger: quiet() })
  t.equal((await small.render('1111111111')).cached, true)
  t.same(cacheFiles(dir), [files[0], files[2]].map((f) => f?.file.slice('cache/'.length)).sort(), 'the oldest went at start-up')
})

t.test('the scan removes stale temp files and truncated files, keeps fresh temp files', async (t) => {
  const dir = soundsDir(t)
  const provider = new ToneProvider(8000)
  const cache = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  await cache.render('warm up!!!')
  const stale = join(dir, 'cache', `.${'a'.repeat(40)}.1.deadbeef.tmp`)
  const fresh = join(dir, 'cache', `.${'b'.repeat(40)}.2.deadbeef.tmp`)
  const truncated = join(dir, 'cache', `${'c'.repeat(40)}.wav`)
  writeFileSync(stale, 'x')
  writeFileSync(fresh, 'x')
  writeFileSync(truncated, 'RIFF')
  const old = Date.now() / 1000 - 2 * 3600
  utimesSync(stale, old, old)
  writeFileSync(join(dir, 'cache', 'README.txt'), 'not ours')
  const restarted = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  await restarted.render('warm up!!!')
  const names = cacheFiles(dir)
  t.notOk(names.includes(stale.split('/').pop() ?? ''), 'stale temp removed')
  t.ok(names.includes(fresh.split('/').pop() ?? ''), 'a temp file another process may be writing stays')
  t.notOk(names.includes(truncated.split('/').pop() ?? ''), 'truncated file removed')
  t.ok(names.includes('README.txt'), 'foreign files are left alone')
})

t.test('text limits: empty and over-long text are permanent errors', async (t) => {
  const dir = soundsDir(t)
  const provider = new ToneProvider(8000)
  const cache = new SpeechCache({ provider, soundsDir: dir, maxBytes: 100_000_000, logger: quiet() })
  for (const text of ['', '   ', '\n\t']) {
    t.ok(isPhoneAgentError(await rejection(cache.render(text)), 'PROVIDER_BAD_REQUEST'), `empty ${JSON.stringify(text)}`)
  }
  const tooLong = await rejection(cache.render('\u00e8'.repeat(MAX_TEXT_BYTES / 2 + 1)))
  t.ok(isPhoneAgentError(tooLong, 'PROVIDER_BAD_REQUEST'), 'limit counts UTF-8 bytes, not characters')
  t.match((tooLong as Error).message, /4098 bytes; the limit is 4096/)
  t.equal((await cache.render('x'.repeat(MAX_TEXT_BYTES))).cached, false, 'exactly at the limit is fine')
  t.equal(provider.calls.length, 1)
})

t.test('provider failures pass through typed and leave no file', async (t) => {
  const dir = soundsDir(t)
  const provider = new ToneProvider(8000)
  const cache = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  provider.failWith = new PhoneAgentError('PROVIDER_RATE_LIMITED', '429')
  t.ok(isPhoneAgentError(await rejection(cache.render('limited')), 'PROVIDER_RATE_LIMITED'))
  provider.failWith = new TypeError('socket went away')
  const wrapped = await rejection(cache.render('untyped'))
  t.ok(isPhoneAgentError(wrapped, 'TTS_FAILED'), 'untyped errors become TTS_FAILED')
  t.type((wrapped as Error).cause, TypeError)
  provider.failWith = undefined
  provider.empty = true
  t.ok(isPhoneAgentError(await rejection(cache.render('silence')), 'PROVIDER_BAD_RESPONSE'), 'no audio is an error')
  t.same(cacheFiles(dir), [])
  provider.empty = false
  t.equal((await cache.render('limited')).cached, false, 'a failure is not cached')
})

t.test('with the offline voice: a real sentence, then a hit', async (t) => {
  const dir = soundsDir(t)
  const tts = new OfflineTts({ voice: 'slt', logger: quiet() })
  t.teardown(() => tts.close())
  let syntheses = 0
  const counting: TtsProvider = {
    name: tts.name,
    voiceId: (r) => tts.voiceId(r),
    synthesize: (r, o) => {
      syntheses++
      return tts.synthesize(r, o)
    },
  }
  const cache = new SpeechCache({ provider: counting, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  const text = 'Thank you for calling. Please leave a message after the tone.'
  const first = await cache.render(text)
  const audio = parseWav(readFileSync(first.path))
  t.equal(audio.sampleRate, 8000, 'slt is 16 kHz; the file is 8 kHz')
  t.equal(audio.channels, 1)
  t.ok(first.durationMs > 2000 && first.durationMs < 10_000, `duration ${first.durationMs} ms`)
  t.ok(rms(audio.samples) > 0.01, 'not silent')
  const second = await cache.render(text)
  t.equal(second.cached, true)
  t.equal(syntheses, 1)
  await tts.close()
  t.equal(tts.fliteProcesses, 0, 'no worker left running')
})
