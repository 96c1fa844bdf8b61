import t, { type Test } from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { FreeSwitchServer, type FreeSwitchResponse } from 'esl'
import { FakeFreeSwitch, parseWav } from '../../lib/simulator/index.ts'
import { activeHandles, toneWav } from './helpers.ts'

const quiet = { debug () {}, info () {}, error () {} }
const dir = mkdtempSync(join(tmpdir(), 'sim-esl-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
const oneSecond = join(dir, 'one-second.wav')
writeFileSync(oneSecond, toneWav(1000))

/** Our server side: the real esl FreeSwitchServer as the product configures it. */
async function serve (t: Test, handler: (call: FreeSwitchResponse) => Promise<void>): Promise<{ port: number, errors: unknown[] }> {
  const server = new FreeSwitchServer({ all_events: false, my_events: true, logger: quiet })
  const errors: unknown[] = []
  server.on('connection', (call: FreeSwitchResponse) => { handler(call).catch((err: unknown) => { errors.push(err) }) })
  await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => { await server.close() })
  const address = (server as unknown as { __server: { address: () => { port: number } } }).__server.address()
  return { port: address.port, errors }
}

t.test('answer, playback of a real 1 s file, linger, disconnect notice and exit', async (t) => {
  let notice: Record<string, string> | undefined
  const { port, errors } = await serve(t, async (call) => {
    await call.linger()
    call.once('cleanup_linger', () => { void call.exit().catch(() => {}) })
    call.once('freeswitch_disconnect_notice', (res) => { notice = res.headers as Record<string, string> })
    await call.command('answer', '', 5000)
    const res = await call.command('playback', oneSecond, 5000) as { body: Record<string, string> }
    t.equal(res.body['Application-Response'], 'FILE PLAYED')
    await call.hangup('NORMAL_CLEARING')
  })
  const fs = new FakeFreeSwitch()
  const sim = fs.placeCall({ port })
  const result = await sim.ended
  t.same(errors, [])
  t.ok(result.answered)
  t.equal(result.hungUpBy, 'server')
  t.ok(result.linger)
  t.ok(result.exitReceived)
  t.equal(notice?.['Content-Disposition'], 'linger')
  const played = result.played[0]
  t.equal(played?.status, 'done')
  t.ok((played?.endMs ?? 0) - (played?.startMs ?? 0) >= 900, 'playback takes the file duration')
  t.match(result.commands[0], /^connect\n/)
  t.match(result.commands.find((c) => c.includes('execute-app-name: playback')), /execute-app-arg: .*one-second\.wav/)
})

t.test('DTMF: the event arrives and * interrupts playback', async (t) => {
  const digits: string[] = []
  const { port } = await serve(t, async (call) => {
    await call.event_json('DTMF')
    call.on('DTMF', (res) => { digits.push(String((res.body as Record<string, unknown>)['DTMF-Digit'] ?? '')) })
    await call.command('answer', '', 5000)
    const res = await call.command('playback', oneSecond, 5000) as { body: Record<string, string> }
    t.equal(res.body['Application-Response'], 'FILE PLAYED')
    t.equal(res.body.variable_playback_terminator_used, '*')
    call.end()
  })
  const fs = new FakeFreeSwitch()
  const sim = fs.placeCall({ port, caller: { dtmf: [{ atMs: 200, digit: '5' }, { atMs: 400, digit: '*' }] } })
  const result = await sim.ended
  t.same(digits, ['5', '*'])
  t.equal(result.played[0]?.status, 'break')
  const played = result.played[0]
  t.ok(played !== undefined && played.endMs < played.startMs + 1000, 'stopped before the end of the one-second file')
})

t.test('record stops about a second after the caller stops talking and writes the audio', async (t) => {
  const path = join(dir, 'message.wav')
  const { port } = await serve(t, async (call) => {
    await call.command('answer', '', 5000)
    await call.command('record', `${path} 20 200 1`, 10000)
    await call.hangup()
  })
  const fs = new FakeFreeSwitch()
  const sim = fs.placeCall({ port, caller: { audio: [{ atMs: 0, wav: toneWav(1500) }] } })
  const result = await sim.ended
  const rec = result.recordings[0]
  t.equal(rec?.reason, 'silence')
  const wav = parseWav(readFileSync(path))
  t.equal(wav.sampleRate, 8000)
  const seconds = wav.pcm.length / 2 / 8000
  t.ok(seconds > 1.9 && seconds < 3, `about 1.5 s of speech plus 1 s of silence (${seconds})`)
  t.equal(result.variables.silence_hits_exhausted, 'true')
})

t.test('caller hangs up mid-playback: CHANNEL_EXECUTE_COMPLETE, then the linger notice', async (t) => {
  const order: string[] = []
  const { port } = await serve(t, async (call) => {
    await call.linger()
    call.on('freeswitch_disconnect_notice', () => { order.push('notice') })
    call.on('cleanup_linger', () => { setTimeout(() => { void call.exit().catch(() => {}) }, 50) })
    await call.event_json('CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE')
    call.on('CHANNEL_HANGUP', () => { order.push('hangup') })
    call.on('CHANNEL_HANGUP_COMPLETE', () => { order.push('hangup_complete') })
    const res = await call.command('playback', oneSecond, 5000) as { body: Record<string, string> }
    order.push(`complete:${res.body['Application-Response'] ?? ''}`)
  })
  const fs = new FakeFreeSwitch()
  const sim = fs.placeCall({ port, caller: { hangupAtMs: 300 } })
  const result = await sim.ended
  t.same([...order].sort(), ['complete:PLAYBACK ERROR', 'hangup', 'hangup_complete', 'notice'])
  // On the wire: CHANNEL_HANGUP, the playback's CHANNEL_EXECUTE_COMPLETE, the linger notice, CHANNEL_HANGUP_COMPLETE.
  const kinds = result.written.map((f) => /"Event-Name":"([A-Z_]+)"/.exec(f)?.[1] ?? /Content-Disposition: (\w+)/.exec(f)?.[1] ?? 'reply')
  const at = (k: string): number => kinds.indexOf(k)
  t.ok(at('CHANNEL_HANGUP') < at('CHANNEL_EXECUTE_COMPLETE'))
  t.ok(at('CHANNEL_EXECUTE_COMPLETE') < at('linger'))
  t.ok(at('linger') < at('CHANNEL_HANGUP_COMPLETE'))
  t.equal(result.hungUpBy, 'caller')
  t.notOk(result.answered, 'playback only pre-answered the channel')
})

t.test('a missing file: FILE NOT FOUND and no PLAYBACK events', async (t) => {
  const { port } = await serve(t, async (call) => {
    const res = await call.command('playback', join(dir, 'nope.wav'), 5000) as { body: Record<string, string> }
    t.equal(res.body['Application-Response'], 'FILE NOT FOUND')
    call.end()
  })
  const result = await new FakeFreeSwitch().placeCall({ port }).ended
  t.notOk(result.events.some((e) => e.name.startsWith('PLAYBACK_')))
  t.equal(result.hungUpBy, 'socket-closed')
})

t.test('no sockets or timers left behind', async (t) => {
  await delay(100)
  t.same(activeHandles(), [])
})
