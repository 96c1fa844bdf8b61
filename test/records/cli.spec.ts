import t from 'tap'
import { runCallsCommand, parseWhen } from '../../lib/cli/calls.ts'
import { csvField } from '../../lib/records/format.ts'
import { openSqliteDriver } from '../../lib/records/sqlite-driver.ts'
import { openSqlCallStore } from '../../lib/records/store.ts'
import type { CallStore } from '../../lib/records/types.ts'
import { logSink, textSink, leakedHandlesSettled } from './helpers.ts'

const T0 = Date.UTC(2025, 0, 31, 10, 0, 0)

/** Minimal RFC 4180 reader, to check our CSV round-trips rather than how it looks. */
function parseCsv (text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++ } else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') { row.push(field); field = '' } else if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i++ } else field += c
  }
  return rows
}

async function seeded (): Promise<CallStore> {
  const store = await openSqlCallStore({ driver: openSqliteDriver(':memory:'), instance: 'cli', logger: logSink().logger })
  const a = store.begin({ uuid: 'aaaa-1', did: '+390212345678', callerNumber: '+393331234567', callerName: 'Rossi, "Mario"\nRM', script: 'take-message', mediaMode: 'files', startedAt: T0 })
  a.answered(T0 + 500)
  a.turn({ role: 'agent', text: 'Hello, how can I help?', at: T0 + 1_000 })
  a.turn({ role: 'caller', text: 'Leave a message \u001b[2J please', at: T0 + 3_000 })
  a.turn({ role: 'agent', text: 'Sure, who', at: T0 + 4_000, interrupted: true })
  a.latency({ turn: 1, speechEndAt: T0 + 3_000, sttFinalAt: T0 + 3_200, llmFirstTokenAt: T0 + 3_600, firstSentenceAt: T0 + 3_800, ttsAudioAt: T0 + 3_900, firstFrameAt: T0 + 4_000 })
  a.latency({ turn: 2, speechEndAt: T0 + 5_000 })
  a.message({ name: 'Mario', number: '+393331234567', text: 'Call me back', at: T0 + 6_000 })
  a.error({ code: 'PROVIDER_TIMEOUT', message: 'stt slow', provider: 'google', at: T0 + 5_500 })
  a.usage({ sttSeconds: 3.5, llmInputTokens: 150, llmOutputTokens: 20, ttsCharacters: 40, costEstimate: 0.003, preemptiveDiscarded: 2 })
  await a.end({ outcome: 'message_taken', hangupCause: 'NORMAL_CLEARING', endedAt: T0 + 192_000 })
  const b = store.begin({ uuid: 'bbbb-2', did: '+390212345678', callerName: '=HYPERLINK("http://evil")', startedAt: T0 + 3_600_000 })
  b.rejected('anonymous')
  await b.end({ outcome: 'rejected', hangupCause: 'CALL_REJECTED', endedAt: T0 + 3_600_000 })
  const c = store.begin({ uuid: 'cccc-3', did: '+390299999999', callerNumber: '+41441234567', startedAt: T0 + 7_200_000 })
  await c.end({ outcome: 'failed', errorCode: 'TTS_FAILED', endedAt: T0 + 7_210_000 })
  return store
}

async function run (store: CallStore, argv: string[], extra: Record<string, unknown> = {}) {
  const out = textSink()
  const err = textSink()
  const code = await runCallsCommand(argv, { store, out: out.out, err: err.out, timeZone: 'UTC', now: () => T0 + 7_300_000, ...extra })
  return { code, out: out.text(), err: err.text() }
}

t.test('table', async (t) => {
  const store = await seeded()
  t.teardown(() => store.close())
  const { code, out } = await run(store, [])
  t.equal(code, 0)
  const lines = out.trimEnd().split('\n')
  t.match(lines[0], /^STARTED\s+DURATION\s+DID\s+CALLER\s+NAME\s+OUTCOME\s+UUID$/)
  t.equal(lines.length, 4, 'header and three calls, one line each')
  t.match(lines[1], /^2025-01-31 12:00:00\s+0:10\s+\+390299999999\s+\+41441234567\s+-\s+failed \(TTS_FAILED\)\s+cccc-3$/)
  t.match(lines[2], /rejected \(anonymous\)\s+bbbb-2$/)
  t.match(lines[3], /^2025-01-31 10:00:00\s+3:12\s+.*Rossi, "Mario" RM\s+message_taken\s+aaaa-1$/, 'newline in a caller name cannot break the table')
  t.equal((await run(store, ['--did', '+399'])).out, 'No calls match.\n')
})

t.test('filters', async (t) => {
  const store = await seeded()
  t.teardown(() => store.close())
  const ids = async (argv: string[], extra = {}): Promise<string[]> =>
    (JSON.parse((await run(store, [...argv, '--json'], extra)).out) as Array<{ uuid: string }>).map((c) => c.uuid)
  t.same(await ids(['--since', '2025-01-31T10:30Z']), ['cccc-3', 'bbbb-2'])
  t.same(await ids(['--since', '90m']), ['cccc-3', 'bbbb-2'], 'relative span')
  t.same(await ids(['--until', '2025-01-31T11:00:00Z']), ['aaaa-1'])
  t.same(await ids(['--did', '+390212345678']), ['bbbb-2', 'aaaa-1'])
  t.same(await ids(['--caller', '+41441234567']), ['cccc-3'])
  t.same(await ids(['--outcome', 'rejected,message-taken']), ['bbbb-2', 'aaaa-1'])
  t.same(await ids(['--limit', '1']), ['cccc-3'])
  t.same(await ids(['--did', '02 1234 5678'], { normalizeNumber: (v: string) => v === '02 1234 5678' ? '+390212345678' : undefined }), ['bbbb-2', 'aaaa-1'], 'numbers normalised as the server does')
})

t.test('usage errors exit 2 with a message', async (t) => {
  const store = await seeded()
  t.teardown(() => store.close())
  for (const argv of [['--since', 'yesterday'], ['--outcome', 'happy'], ['--limit', '0'], ['--json', '--csv'], ['--bogus'], ['extra'], ['show'], ['show', 'a', 'b']]) {
    const r = await run(store, argv)
    t.equal(r.code, 2, argv.join(' '))
    t.match(r.err, /^phone-agent calls: .+\n\nUsage:/, argv.join(' '))
  }
  const bad = await run(store, ['--caller', 'abc'], { normalizeNumber: () => undefined })
  t.match(bad, { code: 2, err: /--caller "abc" is not a phone number/ })
  t.match(await run(store, ['--help']), { code: 0, out: /^Usage:/ })
})

t.test('CSV quotes commas, quotes and newlines, and defuses formulas', async (t) => {
  const store = await seeded()
  t.teardown(() => store.close())
  const { code, out } = await run(store, ['--csv'])
  t.equal(code, 0)
  t.ok(out.endsWith('\r\n'))
  const rows = parseCsv(out)
  const header = rows[0] ?? []
  t.equal(rows.length, 4)
  const col = (row: string[] | undefined, name: string): string | undefined => row?.[header.indexOf(name)]
  const byId = new Map(rows.slice(1).map((r) => [col(r, 'uuid'), r]))
  t.equal(col(byId.get('aaaa-1'), 'caller_name'), 'Rossi, "Mario"\nRM', 'round-trips exactly')
  t.equal(col(byId.get('aaaa-1'), 'caller_number'), '+393331234567', 'a phone number is not mistaken for a formula')
  t.equal(col(byId.get('aaaa-1'), 'started_at'), '2025-01-31T10:00:00.000Z')
  t.equal(col(byId.get('aaaa-1'), 'duration_seconds'), '192')
  t.equal(col(byId.get('bbbb-2'), 'caller_name'), '\'=HYPERLINK("http://evil")')
  t.equal(col(byId.get('bbbb-2'), 'caller_number'), '', 'null is empty')
  t.equal(csvField(' padded'), '" padded"')
  t.equal(csvField('-1.5'), '-1.5')
  t.equal(csvField('@SUM(A1)'), '\'@SUM(A1)')
})

t.test('show: transcript, messages, errors and waterfall as text', async (t) => {
  const store = await seeded()
  t.teardown(() => store.close())
  const { code, out } = await run(store, ['show', 'aaaa-1'])
  t.equal(code, 0)
  t.match(out, /^Call aaaa-1\n/)
  t.match(out, /Started {3}2025-01-31 10:00:00\n/)
  t.match(out, /Answered {2}\+0\.5 s\n/)
  t.match(out, /Ended {5}2025-01-31 10:03:12 \(duration 3:12\)/)
  t.match(out, /Caller {4}\+393331234567 {2}name "Rossi, \\"Mario\\" RM"/)
  t.match(out, /Outcome {3}message_taken {2}hangup cause NORMAL_CLEARING/)
  t.match(out, /estimated cost 0\.0030 \(incl\. 2 preemptive replies discarded\)/, 'discarded preemptive replies are billed and said')
  t.match(out, /\n {2}00:01\.0 {2}agent {3}Hello, how can I help\?\n/)
  t.match(out, /\n {2}00:03\.0 {2}caller {2}Leave a message \uFFFD\[2J please\n/, 'escape sequences are shown, not obeyed')
  t.notMatch(out, /\u001b/)
  t.match(out, /Sure, who {2}\[interrupted\]/)
  t.match(out, /Messages\n {2}00:06\.0 {2}Mario, \+393331234567: Call me back\n/)
  t.match(out, /Errors\n {2}00:05\.5 {2}PROVIDER_TIMEOUT \(google\): stt slow\n/)
  const wf = out.slice(out.indexOf('Latency waterfall'))
  t.match(wf, /turn 1 {2}total 1000 ms from end of caller speech to first audio/)
  t.match(wf, /\n {4}STT final +200 ms {2}#{8}\n/, '200 of 1000 ms is 8 of 40 columns, from the start')
  t.match(wf, /\n {4}LLM first token +400 ms {2} {8}#{16}\n/, 'starts where STT ended')
  t.match(wf, /\n {4}first audio frame +100 ms {2} {36}#{4}\n/)
  t.match(wf, /turn 2: incomplete \(no later stage recorded\)/)
})

t.test('show: JSON, and a missing call', async (t) => {
  const store = await seeded()
  t.teardown(() => store.close())
  const json = await run(store, ['show', 'aaaa-1', '--json'])
  t.match(JSON.parse(json.out), { uuid: 'aaaa-1', turns: [{ seq: 1 }, { seq: 2 }, { seq: 3, interrupted: true }], messages: [{ text: 'Call me back' }] })
  t.match(await run(store, ['show', 'nope']), { code: 1, err: 'phone-agent calls: no call "nope"\n', out: '' })
})

t.test('WHEN parsing', async (t) => {
  const now = Date.UTC(2025, 5, 1)
  t.equal(parseWhen('30m', now), now - 30 * 60_000)
  t.equal(parseWhen('2w', now), now - 14 * 86_400_000)
  t.equal(parseWhen('2025-01-31T10:00:00Z', now), Date.UTC(2025, 0, 31, 10))
  t.equal(parseWhen('2025-01-31T10:00+01:00', now), Date.UTC(2025, 0, 31, 9))
  t.equal(parseWhen('2025-01-31', now), new Date(2025, 0, 31).getTime(), 'a bare date is local midnight')
  t.equal(parseWhen('2025-02-31x', now), undefined)
  t.equal(parseWhen('last tuesday', now), undefined)
})

t.test('no timers, sockets or servers left behind', async (t) => {
  // Closed handles leave libuv's list a loop iteration or two after their close callbacks.
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(await leakedHandlesSettled(), [])
})
