import t from 'tap'
import { assertEslToken, assertEslValue } from '../../lib/freeswitch/safe-value.ts'
import { MediaPaths } from '../../lib/call/media-paths.ts'

t.test('ESL values with CR, LF, NUL or other control characters are refused', async (t) => {
  for (const v of ['a\nb', 'a\r\nsendmsg', '\u0000', 'x\u001b[31m', 'tab\there', 'del\u007f']) {
    t.throws(() => assertEslValue('test', v), { code: 'UNSAFE_VALUE' }, JSON.stringify(v))
  }
  t.equal(assertEslValue('test', '/sounds/cache/ab.wav'), '/sounds/cache/ab.wav')
  t.equal(assertEslValue('test', 'Grüß Gott, è così'), 'Grüß Gott, è così', 'non-ASCII text is fine')
  t.throws(() => assertEslToken('app', 'playback foo'), { code: 'UNSAFE_VALUE' })
})

t.test('sound names cannot leave the sounds directory', async (t) => {
  const m = new MediaPaths('/srv/sounds', '/usr/share/freeswitch/sounds/agent')
  t.equal(m.resolveSound('prompts/hello.wav'), '/srv/sounds/prompts/hello.wav')
  for (const bad of ['../etc/passwd', 'a/../../b.wav', '/etc/passwd', 'x\n.wav', '', '.hidden', 'a b.wav']) {
    t.throws(() => m.resolveSound(bad), { code: 'UNSAFE_VALUE' }, JSON.stringify(bad))
  }
  t.equal(m.toFreeswitch('/srv/sounds/cache/x.wav'), '/usr/share/freeswitch/sounds/agent/cache/x.wav')
  t.throws(() => m.toFreeswitch('/tmp/x.wav'), { code: 'MEDIA_INVALID' })
})

t.test('recording paths come from the call UUID only', async (t) => {
  const m = new MediaPaths('/srv/sounds', '/srv/sounds')
  const p = m.recordingPath('0f4c6f1a-3a33-4b7e-9d55-2a9d1c1b7e01', 2, new Date('2026-11-21T10:00:00Z'))
  t.equal(p, '/srv/sounds/recordings/2026-11-21/0f4c6f1a-3a33-4b7e-9d55-2a9d1c1b7e01-2.wav')
  t.throws(() => m.recordingPath('+39333/../../x', 1), { code: 'UNSAFE_VALUE' })
})
