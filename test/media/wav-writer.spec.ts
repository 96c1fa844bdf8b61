import t, { type Test } from 'tap'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CANONICAL_HEADER_BYTES, encodeWav, parseWav, parseWavLayout } from '../../lib/media/wav.ts'
import { WAV_PLACEHOLDER_SIZE, WavFileWriter } from '../../lib/media/wav-writer.ts'
import { repairWavHeader } from '../../lib/media/wav-repair.ts'

async function tempDir (t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pa-wav-writer-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** 20 ms frames of a ramp, so every sample's position can be checked. */
function frames (rate: number, count: number, start = 0): Int16Array[] {
  const n = rate / 50
  return Array.from({ length: count }, (_, f) => Int16Array.from({ length: n }, (_, i) => (start + f * n + i) % 30000))
}

t.test('the streaming writer: a header with placeholders first, audio as it comes, sizes at the end', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'm.wav')
  const writer = await WavFileWriter.create(path, { sampleRate: 8000, flushMs: 500 })
  const head = parseWavLayout(await readFile(path))
  t.equal(head.declaredDataBytes, WAV_PLACEHOLDER_SIZE, 'data size is the "unknown" placeholder while recording')
  t.equal(head.declaredRiffBytes, WAV_PLACEHOLDER_SIZE)

  const input = frames(8000, 60)
  for (const f of input.slice(0, 24)) writer.write(f)
  await writer.appended()
  t.equal((await stat(path)).size, CANONICAL_HEADER_BYTES, '480 ms held: below the flush threshold, nothing appended yet')
  writer.write(input[24]!)
  await writer.appended()
  t.equal((await stat(path)).size, CANONICAL_HEADER_BYTES + 25 * 320, '500 ms reached: appended to the file')
  t.same(parseWav(await readFile(path)).samples.length, 25 * 160, 'a reader clamps the placeholder to what is on disk')

  for (const f of input.slice(25)) writer.write(f)
  t.equal(writer.durationMs, 1200)
  const done = await writer.close()
  t.match(done, { path, dataBytes: 60 * 320, durationMs: 1200 })
  const buf = await readFile(path)
  const layout = parseWavLayout(buf)
  t.equal(layout.declaredDataBytes, 60 * 320, 'data size patched')
  t.equal(layout.declaredRiffBytes, buf.length - 8, 'RIFF size patched')
  const expected = Int16Array.from(input.flatMap((f) => [...f]))
  t.same(parseWav(buf).samples, expected, 'every sample, in order')
  t.same(buf, encodeWav({ sampleRate: 8000, channels: 1, samples: expected }), 'byte for byte the file encodeWav makes')
})

t.test('the caller may reuse its frame buffer: samples are copied on write', async (t) => {
  const dir = await tempDir(t)
  const writer = await WavFileWriter.create(join(dir, 'r.wav'), { sampleRate: 8000, flushMs: 1000 })
  const frame = new Int16Array(160)
  frame.fill(5)
  writer.write(frame)
  frame.fill(9)
  writer.write(frame)
  await writer.close()
  const samples = parseWav(await readFile(join(dir, 'r.wav'))).samples
  t.equal(samples[0], 5)
  t.equal(samples[160], 9)
})

t.test('discard removes the file; failures to create are thrown', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'gone.wav')
  const writer = await WavFileWriter.create(path, { sampleRate: 16000 })
  for (const f of frames(16000, 40)) writer.write(f)
  await writer.discard()
  await t.rejects(stat(path), { code: 'ENOENT' })

  // /dev/full accepts the open and fails every write with ENOSPC, like a full disk.
  await t.rejects(WavFileWriter.create('/dev/full', { sampleRate: 8000 }), { code: 'ENOSPC' }, 'a full disk fails at create, handle closed')
  await t.rejects(WavFileWriter.create(join(dir, 'nodir', 'x.wav'), { sampleRate: 8000 }), { code: 'ENOENT' })
  await t.rejects(WavFileWriter.create(join(dir, 'y.wav'), { sampleRate: 12 }), { code: 'MEDIA_INVALID' }, 'a bad rate is refused before a file exists')
})

t.test('header repair', async (t) => {
  const dir = await tempDir(t)
  const crashed = async (name: string, samples: number, extraBytes = 0): Promise<string> => {
    const path = join(dir, name)
    const writer = await WavFileWriter.create(path, { sampleRate: 8000, flushMs: 20 })
    for (const f of frames(8000, samples / 160)) writer.write(f)
    await writer.appended()
    // The process dies here: no close(), the placeholders stay.
    if (extraBytes > 0) await writeFile(path, Buffer.alloc(extraBytes, 7), { flag: 'a' })
    return path
  }

  await t.test('a file left by a crash gets sizes from its length', async (t) => {
    const path = await crashed('crash.wav', 8000)
    t.equal(parseWavLayout(await readFile(path)).declaredDataBytes, WAV_PLACEHOLDER_SIZE)
    t.match(await repairWavHeader(path), { status: 'repaired', dataBytes: 16000, durationMs: 1000 })
    const buf = await readFile(path)
    t.match(parseWavLayout(buf), { declaredDataBytes: 16000, declaredRiffBytes: buf.length - 8 })
    t.equal(parseWav(buf).samples.length, 8000)
    t.match(await repairWavHeader(path), { status: 'intact', dataBytes: 16000, durationMs: 1000 }, 'a second run changes nothing')
  })

  await t.test('truncated mid-sample: the torn byte is cut', async (t) => {
    const path = await crashed('torn.wav', 1600, 1)
    t.equal((await stat(path)).size, CANONICAL_HEADER_BYTES + 3201)
    t.match(await repairWavHeader(path), { status: 'repaired', dataBytes: 3200, durationMs: 200 })
    t.equal((await stat(path)).size, CANONICAL_HEADER_BYTES + 3200)
  })

  await t.test('zero-length data: a valid empty WAV', async (t) => {
    const path = await crashed('empty.wav', 0)
    t.match(await repairWavHeader(path), { status: 'repaired', dataBytes: 0, durationMs: 0 })
    const buf = await readFile(path)
    t.equal(buf.length, CANONICAL_HEADER_BYTES)
    t.match(parseWavLayout(buf), { declaredDataBytes: 0, declaredRiffBytes: 36 })
  })

  await t.test('zeros left in the header (another writer\'s placeholder) are repaired too', async (t) => {
    const path = join(dir, 'zeros.wav')
    const buf = encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(800) })
    buf.writeUInt32LE(0, 4)
    buf.writeUInt32LE(0, 40)
    await writeFile(path, buf)
    t.match(await repairWavHeader(path), { status: 'repaired', dataBytes: 1600, durationMs: 100 })
  })

  await t.test('a header patched while the file was still growing is brought up to date', async (t) => {
    const path = join(dir, 'stale.wav')
    const full = encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(1600) })
    const stale = encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(800) }).subarray(0, CANONICAL_HEADER_BYTES)
    await writeFile(path, Buffer.concat([stale, full.subarray(CANONICAL_HEADER_BYTES)]))
    t.match(await repairWavHeader(path), { status: 'repaired', dataBytes: 3200, durationMs: 200 })
  })

  await t.test('a finished file, and one with a chunk after its data, are left alone', async (t) => {
    const good = join(dir, 'good.wav')
    const bytes = encodeWav({ sampleRate: 16000, channels: 1, samples: new Int16Array(1600) })
    await writeFile(good, bytes)
    t.match(await repairWavHeader(good), { status: 'intact', dataBytes: 3200, durationMs: 100 })
    t.same(await readFile(good), bytes)

    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([4, 0, 0, 0]), Buffer.from('INFO')])
    const trailing = Buffer.concat([bytes, list])
    trailing.writeUInt32LE(trailing.length - 8, 4)
    const withList = join(dir, 'list.wav')
    await writeFile(withList, trailing)
    t.match(await repairWavHeader(withList), { status: 'intact', dataBytes: 3200 })
    t.same(await readFile(withList), trailing)
  })

  await t.test('a file that is not a WAV is reported and left untouched', async (t) => {
    for (const [name, content] of [
      ['garbage.wav', Buffer.from('this is not audio at all, just text that ends up named .wav')],
      ['short.wav', Buffer.from('RIFF')],
      ['cut-header.wav', encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(10) }).subarray(0, 30)],
      ['empty-file.wav', Buffer.alloc(0)],
    ] as const) {
      const path = join(dir, name)
      await writeFile(path, content)
      t.match(await repairWavHeader(path), { status: 'not-wav', reason: /wav: / }, name)
      t.same(await readFile(path), content, `${name} untouched`)
    }
  })

  await t.test('a missing file rejects (the caller logs it)', async (t) => {
    await t.rejects(repairWavHeader(join(dir, 'nope.wav')), { code: 'ENOENT' })
  })

})
