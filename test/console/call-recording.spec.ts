import t from 'tap'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ConsoleAuth } from '../../lib/console/auth.ts'
import { createConsole } from '../../lib/console/server.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { numberShown } from '../../lib/notify/mask.ts'
import { captureLogs } from '../helpers/logs.ts'
import { tempStore } from '../notify/helpers.ts'

t.test('the call page has a player for the whole-call recording, served from the recordings directory only', async (t) => {
  const db = await tempStore()
  const recordings = join(db.dir, 'recordings')
  await mkdir(recordings, { recursive: true })
  const wav = encodeWav({ sampleRate: 8000, channels: 2, samples: new Int16Array(3200) })
  const inside = join(recordings, 'a-call.wav')
  const outside = join(db.dir, 'b-call.wav')
  await writeFile(inside, wav)
  await writeFile(outside, wav)
  for (const [uuid, recordingPath] of [['rec', inside], ['out', outside], ['none', undefined]] as const) {
    const rec = db.store.begin({ uuid, did: '+390212345678', recordingPath })
    await rec.end({ outcome: 'completed', recording: recordingPath === undefined ? undefined : { durationMs: 200 } })
  }
  const handler = createConsole({
    store: db.store, live: () => [], auth: new ConsoleAuth(undefined), loopbackOnly: true, recordingsDir: recordings,
    view: { number: numberShown(false) }, logger: captureLogs().logger,
  })
  const server: Server = createServer((req, res) => { void handler(req, res).then((handled) => { if (!handled) res.writeHead(404).end() }) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); await db.cleanup() })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const page = await (await fetch(`${url}/console/calls/rec`)).text()
  t.match(page, '<audio id="call-recording" controls preload="none" src="/console/audio/rec/call">', 'a player for the recording')
  const audio = await fetch(`${url}/console/audio/rec/call`)
  t.equal(audio.status, 200)
  t.equal(audio.headers.get('content-type'), 'audio/wav')
  t.same(Buffer.from(await audio.arrayBuffer()), wav, 'the file itself')
  t.notMatch(await (await fetch(`${url}/console/calls/none`)).text(), 'call-recording', 'no player without a recording')
  t.equal((await fetch(`${url}/console/audio/none/call`)).status, 404)
  t.equal((await fetch(`${url}/console/audio/out/call`)).status, 404, 'a path outside the recordings directory is never served')
})
