import t, { type Test } from 'tap'
import { runDoctor, type CheckResult } from '../../lib/doctor/run.ts'
import { softtimerTimerfd, switchTrue, switchWriteTimer, type Param } from '../../lib/doctor/checks-timer.ts'
import { runApi, type InboundState } from '../../lib/simulator/index.ts'
import { harness, installedState, switchConf, withConfig } from './fixture.ts'

// The doctor's check of FreeSWITCH's RTP write timer against media.stream.writeTimer: the mapping
// from switch.conf to timerfd / sleep / matrix value by value (src/switch_core.c ~2218,
// src/switch_time.c ~852-880 and ~1055-1070), then the check against the fake's loaded XML.

const BASE = installedState()
const NAME = 'FreeSWITCH write timer'

t.test('switch_true as switch_utils.h has it', async (t) => {
  for (const v of ['yes', 'on', 'true', 'TRUE', 't', 'enabled', 'active', 'allow', '1', '2', '-1', '+3', '1.5', '007']) t.ok(switchTrue(v), v)
  for (const v of ['', 'no', 'off', 'false', '0', '0.9', '.', '+', 'y', 'true ', ' 1', '1a', '4294967296']) t.notOk(switchTrue(v), JSON.stringify(v))
})

t.test('enable-softtimer-timerfd: true-ish and "broadcast" are 2, every other value 1 (the inverted strcasecmp)', async (t) => {
  const table: ReadonlyArray<readonly [string, 1 | 2]> = [
    ['true', 2], ['yes', 2], ['1', 2], ['on', 2], ['broadcast', 2], ['BROADCAST', 2], ['Broadcast', 2],
    ['false', 1], ['no', 1], ['0', 1], ['fd-per-timer', 1], ['FD-PER-TIMER', 1], ['', 1], ['timerfd', 1],
  ]
  for (const [v, tfd] of table) t.equal(softtimerTimerfd(v), tfd, JSON.stringify(v))
})

t.test('the write timer from switch.conf, value by value', async (t) => {
  const tfd = (v: string): Param => ['enable-softtimer-timerfd', v]
  const mono = (v: string): Param => ['enable-monotonic-timing', v]
  const table: ReadonlyArray<readonly [string, readonly Param[], string]> = [
    ['absent', [], 'timerfd'],
    ['true', [tfd('true')], 'timerfd'],
    ['yes', [tfd('yes')], 'timerfd'],
    ['1', [tfd('1')], 'timerfd'],
    ['broadcast', [tfd('broadcast')], 'timerfd'],
    ['BROADCAST', [tfd('BROADCAST')], 'timerfd'],
    ['false', [tfd('false')], 'sleep'],
    ['no', [tfd('no')], 'sleep'],
    ['fd-per-timer', [tfd('fd-per-timer')], 'sleep'],
    ['false, monotonic true', [tfd('false'), mono('true')], 'sleep'],
    ['false, monotonic false', [tfd('false'), mono('false')], 'matrix'],
    ['monotonic false first, then no', [mono('0'), tfd('no')], 'matrix'],
    ['monotonic false alone', [mono('false')], 'timerfd'],
    ['true, monotonic false', [tfd('true'), mono('false')], 'timerfd'],
    ['the name in capitals (strcasecmp)', [['ENABLE-SOFTTIMER-TIMERFD', 'false']], 'sleep'],
    ['the last of two wins', [tfd('false'), tfd('true')], 'timerfd'],
    // MONO 0 keeps the runtime thread off its own timerfd, so MATRIX is what the params left.
    ['false, monotonic false, enable-timer-matrix false', [tfd('false'), mono('false'), ['enable-timer-matrix', 'false']], 'sleep'],
    ['... then enable-cond-yield true', [tfd('false'), mono('false'), ['enable-timer-matrix', 'false'], ['enable-cond-yield', 'true']], 'matrix'],
    // With MONO 1 the runtime thread sets MATRIX = 0 after switch.conf, whatever it said.
    ['false, enable-timer-matrix true', [tfd('false'), ['enable-timer-matrix', 'true']], 'sleep'],
  ]
  for (const [what, params, timer] of table) t.equal(switchWriteTimer(params), timer, what)
  // post_load_switch.conf is read after the runtime thread took its timerfd.
  t.equal(switchWriteTimer([], [tfd('false')]), 'sleep', 'post_load: false after the runtime thread started')
  t.equal(switchWriteTimer([tfd('false')], [tfd('true')]), 'timerfd', 'post_load: true puts timerfd back')
  t.equal(switchWriteTimer([tfd('false')], [['enable-timer-matrix', 'true']]), 'matrix', 'post_load: the matrix turned back on')
})

/** `files`: every call in files mode, so no media.stream.writeTimer in the doctor's input. */
async function check (t: Test, state: InboundState, writeTimer: 'timerfd' | 'matrix' | 'files' = 'timerfd'): Promise<{ timer: CheckResult[], all: CheckResult[], commands: readonly string[] }> {
  const h = await harness(state, { input: { writeTimer: writeTimer === 'files' ? undefined : writeTimer } })
  t.teardown(async () => { await h.close() })
  const all = await runDoctor(h.input, { env: h.env })
  return { timer: all.filter((r) => r.name === NAME), all, commands: h.fake.commands }
}
const withTimer = (...extra: Param[]): InboundState => withConfig(BASE, 'switch.conf', switchConf(extra))

t.test('vanilla switch.conf and the default writeTimer: timerfd, a pass', async (t) => {
  const { timer, all, commands } = await check(t, BASE)
  t.same(timer, [{ ok: true, name: NAME, detail: 'timerfd (switch.conf enable-softtimer-timerfd absent, enable-monotonic-timing absent), as media.stream.writeTimer says' }])
  t.same(all.filter((r) => !r.ok), [])
  t.ok(commands.includes('api xml_locate configuration configuration name switch.conf'))
  t.ok(commands.includes('api xml_locate configuration configuration name post_load_switch.conf'))
})

t.test('enable-softtimer-timerfd false: the 20 ms sleep before every write fails, naming the setting and the fix', async (t) => {
  const { timer, all } = await check(t, withTimer(['enable-softtimer-timerfd', 'false']))
  t.equal(timer.length, 1)
  t.equal(timer[0]!.ok, false)
  t.equal(timer[0]!.detail, 'sleep (switch.conf enable-softtimer-timerfd="false", enable-monotonic-timing absent): FreeSWITCH sleeps 20 ms before every RTP write, so every frame we send waits 20+ ms in FreeSWITCH and replies reach the caller 25-55 ms late')
  t.equal(timer[0]!.fix, 'remove enable-softtimer-timerfd from autoload_configs/switch.conf.xml (or set it to true), then restart FreeSWITCH (it reads switch.conf only when it starts); media.stream.writeTimer stays timerfd')
  t.same(all.filter((r) => !r.ok).map((r) => r.name), [NAME], 'only this check fails')
  // Sleep is never right, whatever our config says.
  t.match((await check(t, withTimer(['enable-softtimer-timerfd', 'fd-per-timer']), 'matrix')).timer,
    [{ ok: false, detail: /^sleep \(switch\.conf enable-softtimer-timerfd="fd-per-timer"/, fix: /; and set media\.stream\.writeTimer: timerfd in the config$/ }])
})

t.test('a value is taken as FreeSWITCH holds it: "true " with a blank is not switch_true', async (t) => {
  t.match((await check(t, withTimer(['enable-softtimer-timerfd', 'true ']))).timer, [{ ok: false, detail: /^sleep \(switch\.conf enable-softtimer-timerfd="true "/ }])
  t.match((await check(t, withTimer(['Enable-SoftTimer-TimerFD', 'BroadCast']))).timer, [{ ok: true, detail: /^timerfd \(switch\.conf enable-softtimer-timerfd="BroadCast"/ }])
})

t.test('the matrix (timerfd off, monotonic off) with writeTimer matrix passes', async (t) => {
  const { timer } = await check(t, withTimer(['enable-softtimer-timerfd', 'false'], ['enable-monotonic-timing', 'false']), 'matrix')
  t.same(timer, [{ ok: true, name: NAME, detail: 'matrix (switch.conf enable-softtimer-timerfd="false", enable-monotonic-timing="false"), as media.stream.writeTimer says' }])
})

t.test('a switch and a config that disagree fail, each naming media.stream.writeTimer', async (t) => {
  const matrixSwitch = await check(t, withTimer(['enable-softtimer-timerfd', 'no'], ['enable-monotonic-timing', 'no']), 'timerfd')
  t.same(matrixSwitch.timer.map((r) => [r.ok, r.detail, r.fix]), [[false,
    'matrix (switch.conf enable-softtimer-timerfd="no", enable-monotonic-timing="no") but media.stream.writeTimer is timerfd: after idle ticks a reply\'s first frame waits in FreeSWITCH for the next 20 ms tick',
    'set media.stream.writeTimer: matrix in the config (or, faster: remove enable-softtimer-timerfd from autoload_configs/switch.conf.xml, then restart FreeSWITCH (it reads switch.conf only when it starts))']])
  const timerfdSwitch = await check(t, BASE, 'matrix')
  t.same(timerfdSwitch.timer.map((r) => [r.ok, r.detail, r.fix]), [[false,
    'timerfd (switch.conf enable-softtimer-timerfd absent, enable-monotonic-timing absent) but media.stream.writeTimer is matrix: a quiet line gets idle silence on every tick that it does not need (CPU, nothing heard)',
    'set media.stream.writeTimer: timerfd (the default) in the config']])
})

t.test('post_load_switch.conf is read too, and named when it sets a timer', async (t) => {
  const post = withConfig(BASE, 'post_load_switch.conf', { ...switchConf([['enable-softtimer-timerfd', 'false']]), attrs: [['name', 'post_load_switch.conf']] })
  t.match((await check(t, post)).timer, [{
    ok: false,
    detail: /^sleep \(switch\.conf enable-softtimer-timerfd absent, enable-monotonic-timing absent; post_load_switch\.conf enable-softtimer-timerfd="false"\)/,
    fix: /^remove enable-softtimer-timerfd from autoload_configs\/switch\.conf\.xml and post_load_switch\.conf\.xml /,
  }])
})

t.test('switch.conf not in the loaded XML: a failure with the fix, and the other checks still run', async (t) => {
  const gone = withConfig(BASE, 'switch.conf', undefined)
  t.equal(runApi(gone, 'xml_locate configuration configuration name switch.conf'), "can't find anything\n")
  const { timer, all } = await check(t, gone)
  t.same(timer.map((r) => [r.ok, r.detail, r.fix]), [[false,
    'switch.conf is not in the loaded XML (xml_locate configuration configuration name switch.conf), so the soft timer FreeSWITCH writes our frames on cannot be told',
    'restore autoload_configs/switch.conf.xml (vanilla\'s, without enable-softtimer-timerfd), then restart FreeSWITCH (it reads switch.conf only when it starts)']])
  t.same(all.filter((r) => !r.ok).map((r) => r.name), [NAME])
  t.ok(all.some((r) => r.name === 'gateway peoplefone' && r.ok))
  // A switch.conf without <settings> is vanilla's defaults: timerfd.
  const bare = withConfig(BASE, 'switch.conf', { name: 'configuration', attrs: [['name', 'switch.conf']], children: [] })
  t.match((await check(t, bare)).timer, [{ ok: true, detail: /^timerfd / }])
})

t.test('every call in files mode: no timer check, nothing asked', async (t) => {
  const { timer, all, commands } = await check(t, withTimer(['enable-softtimer-timerfd', 'false']), 'files')
  t.same(timer, [])
  t.same(all.filter((r) => !r.ok), [])
  t.notOk(commands.some((c) => c.includes('switch.conf')))
})
