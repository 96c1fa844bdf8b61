import type { Test } from 'tap'
import type { CallStore } from '../../lib/records/types.ts'

/**
 * Behaviour every CallStore must have, run against SQLite and (when available) PostgreSQL.
 * `open` returns a fresh, empty store.
 */
export function storeContract (t: Test, open: () => Promise<CallStore>): void {
  t.test('a call recorded as it progresses reads back whole', async (t) => {
    const store = await open()
    t.teardown(() => store.close())
    const rec = store.begin({ uuid: 'u-1', did: '+390212345678', callerNumber: '+393331234567', callerName: 'Rossi, "Mario"', script: 'take-message', mediaMode: 'files', startedAt: 1_000 })
    rec.answered(1_500)
    rec.contact('Mario Rossi')
    rec.turn({ role: 'agent', text: 'Hello, how can I help?', at: 2_000 })
    rec.turn({ role: 'caller', text: 'I would like to leave a message', at: 4_000 })
    rec.turn({ role: 'agent', text: 'Of course, who', at: 5_000, interrupted: true })
    rec.latency({ turn: 1, speechEndAt: 4_000, sttFinalAt: 4_200.5, llmFirstTokenAt: 4_600, firstSentenceAt: 4_800, ttsAudioAt: 4_900, firstFrameAt: 4_950 })
    rec.latency({ turn: 2, speechEndAt: 6_000 })
    rec.latency({ turn: 2, speechEndAt: 6_000, sttFinalAt: 6_100 })
    rec.message({ name: 'Mario', number: '+393331234567', text: 'Call me back', recordingPath: '/var/lib/x.wav', at: 7_000 })
    rec.error({ code: 'PROVIDER_TIMEOUT', message: 'stt timed out', provider: 'google', at: 6_500 })
    rec.usage({ sttSeconds: 1.5, llmInputTokens: 100, llmOutputTokens: 20, ttsCharacters: 40, costEstimate: 0.001 })
    rec.usage({ sttSeconds: 2, llmInputTokens: 50, costEstimate: 0.002 })
    await rec.end({ outcome: 'message_taken', hangupCause: 'NORMAL_CLEARING', endedAt: 9_000 })

    const call = await store.get('u-1')
    t.ok(call, 'record exists')
    if (call === undefined) return
    t.match(call, {
      uuid: 'u-1', did: '+390212345678', callerNumber: '+393331234567', callerName: 'Rossi, "Mario"', contact: 'Mario Rossi',
      script: 'take-message', mediaMode: 'files', startedAt: 1_000, answeredAt: 1_500, endedAt: 9_000, durationMs: 8_000,
      outcome: 'message_taken', hangupCause: 'NORMAL_CLEARING', errorCode: null, rejectionReason: null,
      llmInputTokens: 150, llmOutputTokens: 20, ttsCharacters: 40,
    })
    t.equal(call.sttSeconds, 3.5)
    t.ok(Math.abs(call.costEstimate - 0.003) < 1e-9, 'usage adds up')
    t.same(call.turns.map((x) => [x.seq, x.role, x.text, x.at, x.interrupted]), [
      [1, 'agent', 'Hello, how can I help?', 2_000, false],
      [2, 'caller', 'I would like to leave a message', 4_000, false],
      [3, 'agent', 'Of course, who', 5_000, true],
    ])
    t.same(call.latency, [
      { turn: 1, speechEndAt: 4_000, sttFinalAt: 4_200.5, llmFirstTokenAt: 4_600, firstSentenceAt: 4_800, ttsAudioAt: 4_900, firstFrameAt: 4_950 },
      { turn: 2, speechEndAt: 6_000, sttFinalAt: 6_100, llmFirstTokenAt: null, firstSentenceAt: null, ttsAudioAt: null, firstFrameAt: null },
    ], 'a second report for a turn replaces the first')
    t.same(call.messages, [{ seq: 1, name: 'Mario', number: '+393331234567', text: 'Call me back', recordingPath: '/var/lib/x.wav', at: 7_000, status: 'complete', durationMs: null }])
    t.same(call.errors, [{ seq: 1, code: 'PROVIDER_TIMEOUT', message: 'stt timed out', provider: 'google', at: 6_500 }])
  })

  t.test('rejected and failed calls keep their reason and code', async (t) => {
    const store = await open()
    t.teardown(() => store.close())
    const rej = store.begin({ uuid: 'r-1', did: '+390200000001', startedAt: 10 })
    rej.rejected('anonymous')
    await rej.end({ outcome: 'rejected', hangupCause: 'CALL_REJECTED', endedAt: 20 })
    const fail = store.begin({ uuid: 'f-1', did: '+390200000001', startedAt: 30 })
    fail.error({ code: 'PROVIDER_UNAVAILABLE', message: 'llm 503' })
    fail.error({ code: 'TTS_FAILED', message: 'no audio' })
    await fail.end({ outcome: 'failed', endedAt: 40 })
    t.match(await store.get('r-1'), { outcome: 'rejected', rejectionReason: 'anonymous', hangupCause: 'CALL_REJECTED', answeredAt: null })
    t.match(await store.get('f-1'), { outcome: 'failed', errorCode: 'TTS_FAILED' }, 'the last error is the failure code')
    t.equal(await store.get('nope'), undefined)
  })

  t.test('list filters and orders newest first', async (t) => {
    const store = await open()
    t.teardown(() => store.close())
    const calls = [
      { uuid: 'a', did: '+391', callerNumber: '+3911', startedAt: 1_000, outcome: 'completed' as const },
      { uuid: 'b', did: '+392', callerNumber: '+3922', startedAt: 2_000, outcome: 'rejected' as const },
      { uuid: 'c', did: '+391', callerNumber: '+3922', startedAt: 3_000, outcome: 'voicemail' as const },
    ]
    for (const c of calls) {
      const rec = store.begin(c)
      await rec.end({ outcome: c.outcome, endedAt: c.startedAt + 10 })
    }
    store.begin({ uuid: 'd', did: '+391', startedAt: 4_000 })
    await store.flush()
    const ids = async (f: Parameters<CallStore['list']>[0]): Promise<string[]> => (await store.list(f)).map((c) => c.uuid)
    t.same(await ids({}), ['d', 'c', 'b', 'a'])
    t.same(await ids({ since: 2_000 }), ['d', 'c', 'b'])
    t.same(await ids({ did: '+391' }), ['d', 'c', 'a'])
    t.same(await ids({ caller: '+3922' }), ['c', 'b'])
    t.same(await ids({ outcomes: ['completed', 'voicemail'] }), ['c', 'a'])
    t.same(await ids({ limit: 2 }), ['d', 'c'])
    t.match((await store.list({ did: '+391' }))[0], { uuid: 'd', outcome: null, endedAt: null, durationMs: null }, 'a live call has no outcome yet')
  })

  t.test('recovery marks open records interrupted, ended ones untouched', async (t) => {
    const store = await open()
    t.teardown(() => store.close())
    const open1 = store.begin({ uuid: 'o-1', did: '+391', startedAt: 100 })
    open1.turn({ role: 'caller', text: 'hello' })
    const done = store.begin({ uuid: 'd-1', did: '+391', startedAt: 100 })
    await done.end({ outcome: 'completed', endedAt: 200 })
    await store.flush()
    t.equal(await store.recoverInterrupted(), 1)
    const rec = await store.get('o-1')
    t.equal(rec?.outcome, 'interrupted')
    t.ok((rec?.endedAt ?? 0) >= 100, 'ended at the last recorded activity')
    t.equal((await store.get('d-1'))?.outcome, 'completed')
    t.equal(await store.recoverInterrupted(), 0, 'idempotent')
    await open1.end({ outcome: 'completed' })
    t.equal((await store.get('o-1'))?.outcome, 'interrupted', 'a late end cannot rewrite a recovered record')
  })

  t.test("interruptCalls marks only the named open records (a dead cluster worker's calls)", async (t) => {
    const store = await open()
    t.teardown(() => store.close())
    store.begin({ uuid: 'w-lost', did: '+391', startedAt: 100 })
    store.begin({ uuid: 'w-live', did: '+391', startedAt: 100 })
    const done = store.begin({ uuid: 'w-done', did: '+391', startedAt: 100 })
    await done.end({ outcome: 'completed', endedAt: 200 })
    await store.flush()
    t.equal(await store.interruptCalls(['w-lost', 'w-done', 'w-unknown']), 1, 'one open record among them')
    t.equal((await store.get('w-lost'))?.outcome, 'interrupted')
    t.equal((await store.get('w-live'))?.outcome ?? null, null, "another worker's live call stays open")
    t.equal((await store.get('w-done'))?.outcome, 'completed', 'an ended record is left alone')
  })

  t.test('a recorded message has its row from the start: completed, discarded, or left open by a crash', async (t) => {
    const store = await open()
    t.teardown(() => store.close())
    const rec = store.begin({ uuid: 'm-1', did: '+391', startedAt: 100 })
    rec.message({ text: 'typed note' })
    rec.message({ text: '', recordingPath: '/r/m-1-1.wav', number: '+3933', status: 'recording', at: 200 })
    rec.message({ text: '', recordingPath: '/r/m-1-2.wav', status: 'recording', at: 300 })
    rec.message({ text: '', recordingPath: '/r/m-1-3.wav', status: 'recording', at: 400 })
    await store.flush()
    const live = await store.get('m-1')
    t.same(live?.messages.map((m) => [m.seq, m.status, m.recordingPath]), [
      [1, 'complete', null], [2, 'recording', '/r/m-1-1.wav'], [3, 'recording', '/r/m-1-2.wav'], [4, 'recording', '/r/m-1-3.wav'],
    ], 'rows exist while the recordings run')
    rec.message({ text: '', recordingPath: '/r/m-1-1.wav', number: '+3933', durationMs: 4_200.4, at: 900 })
    rec.message({ text: '', recordingPath: '/r/m-1-2.wav', status: 'discarded' })
    rec.message({ text: '', recordingPath: '/r/never-opened.wav', status: 'discarded' })
    await store.flush()
    const after = await store.get('m-1')
    t.same(after?.messages.map((m) => [m.seq, m.status, m.recordingPath, m.durationMs, m.at]), [
      [1, 'complete', null, null, after?.messages[0]?.at], [2, 'complete', '/r/m-1-1.wav', 4_200, 900], [4, 'recording', '/r/m-1-3.wav', null, 400],
    ], 'completed in place (same seq), an empty one removed, the third still open')

    t.same(await store.openMessages(), [{ callUuid: 'm-1', seq: 4, recordingPath: '/r/m-1-3.wav' }])
    await store.settleMessage({ callUuid: 'm-1', seq: 4, recordingPath: '/r/m-1-3.wav' }, { status: 'recovered', durationMs: 1_500 })
    t.match((await store.get('m-1'))?.messages[2], { seq: 4, status: 'recovered', durationMs: 1_500 })
    t.same(await store.openMessages(), [], 'nothing left open')
    await store.settleMessage({ callUuid: 'm-1', seq: 2, recordingPath: '/r/m-1-1.wav' }, { status: 'lost', durationMs: null })
    t.match((await store.get('m-1'))?.messages[1], { seq: 2, status: 'complete' }, 'settling never touches a finished row')
  })

  t.test('caller-controlled text is stored as data', async (t) => {
    const store = await open()
    t.teardown(() => store.close())
    const nasty = "Robert'); DROP TABLE calls;--\n\u001b[31m?\u0000x"
    const rec = store.begin({ uuid: 'n-1', did: '+391', callerName: nasty })
    rec.turn({ role: 'caller', text: nasty })
    await rec.end({ outcome: 'completed' })
    const call = await store.get('n-1')
    const expected = nasty.replace('\u0000', '')
    t.equal(call?.callerName, expected, 'NUL removed (PostgreSQL refuses it), the rest verbatim')
    t.equal(call?.turns[0]?.text, expected)
    t.equal((await store.list()).length, 1, 'table still there')
  })

  t.test('many concurrent calls writing at once', async (t) => {
    const store = await open()
    t.teardown(() => store.close())
    const CALLS = 60
    const TURNS = 15
    const yieldRandomly = async (): Promise<void> => {
      if (Math.random() < 0.5) await new Promise((resolve) => setImmediate(resolve))
    }
    await Promise.all(Array.from({ length: CALLS }, async (_, i) => {
      const rec = store.begin({ uuid: `c-${i}`, did: '+391', callerNumber: `+39${i}`, startedAt: 1_000 + i })
      rec.answered()
      for (let j = 0; j < TURNS; j++) {
        rec.turn({ role: j % 2 === 0 ? 'caller' : 'agent', text: `call ${i} turn ${j}` })
        rec.latency({ turn: j, speechEndAt: j, firstFrameAt: j + 1 })
        rec.usage({ llmInputTokens: 1 })
        await yieldRandomly()
      }
      await rec.end({ outcome: 'completed' })
    }))
    const all = await store.list({ limit: 1000 })
    t.equal(all.length, CALLS)
    t.ok(all.every((c) => c.outcome === 'completed' && c.llmInputTokens === TURNS), 'every call ended with all its usage')
    let ordered = true
    for (let i = 0; i < CALLS; i++) {
      const call = await store.get(`c-${i}`)
      const texts = call?.turns.map((x) => x.text) ?? []
      if (texts.length !== TURNS || texts.some((text, j) => text !== `call ${i} turn ${j}`) || call?.latency.length !== TURNS) ordered = false
    }
    t.ok(ordered, 'every call has all its turns, in order, and all its latency rows')
  })
}
