import t from 'tap'
import { runCallsCommand } from '../../lib/cli/calls.ts'
import { MessageTable, purgedAt } from '../../lib/records/owner-sql.ts'
import { textSink } from '../records/helpers.ts'
import { recordCall, tempStore } from './helpers.ts'

t.test('calls show prints the voicemail transcript (terminal-safe) and --json carries it', async (t) => {
  const db = await tempStore()
  t.teardown(async () => { await db.cleanup() })
  await recordCall(db.store, { uuid: 'v1', message: { text: 'Left a message', recordingPath: '/tmp/none.wav' } })
  const messages = new MessageTable(db.store.sql)
  t.same((await messages.queueTranscripts('v1')).map((p) => p.seq), [1])
  const deps = (out: { write (s: string): void }) => ({
    store: db.store, out, messageExtras: async (u: string) => await messages.extras(u), purgedAt: async (u: string) => await purgedAt(db.store.sql, u),
  })
  let sink = textSink()
  await runCallsCommand(['show', 'v1'], deps(sink.out))
  t.match(sink.text(), /Voicemail transcripts\n {2}message 1: \(being transcribed\)/)

  await messages.setTranscript('v1', 1, 'done', 'Call me \u001b[31mback\u001b[0m')
  sink = textSink()
  t.equal(await runCallsCommand(['show', 'v1'], deps(sink.out)), 0)
  t.match(sink.text(), /message 1: Call me \uFFFD\[31mback\uFFFD\[0m/, 'escape sequences neutralised')
  t.notMatch(sink.text(), /\u001b/)

  sink = textSink()
  await runCallsCommand(['show', 'v1', '--json'], deps(sink.out))
  t.match(JSON.parse(sink.text()), { uuid: 'v1', messageTranscripts: { 1: { status: 'done', text: 'Call me \u001b[31mback\u001b[0m' } }, purgedAt: null })
})
