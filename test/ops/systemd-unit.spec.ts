import { readFileSync } from 'node:fs'
import t from 'tap'
import { opsSchema } from '../../lib/ops/config.ts'

const unit = readFileSync(new URL('../../bin/phone-agent.service', import.meta.url), 'utf8')
const directives = new Map<string, string[]>()
for (const line of unit.split('\n')) {
  const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim())
  if (m !== null) directives.set(m[1] ?? '', [...(directives.get(m[1] ?? '') ?? []), m[2] ?? ''])
}
const one = (key: string): string | undefined => directives.get(key)?.[0]

t.test('hardened and restartable', async (t) => {
  t.equal(one('NoNewPrivileges'), 'yes')
  t.equal(one('ProtectSystem'), 'strict')
  t.equal(one('Restart'), 'on-failure')
  t.equal(one('User'), 'phone-agent', 'never root')
  const rw = (one('ReadWritePaths') ?? '').split(/\s+/)
  t.ok(rw.some((p) => p.endsWith('/data')) && rw.some((p) => p.endsWith('/sounds')), 'data and sounds writable')
  t.equal(one('KillSignal'), 'SIGTERM', 'the signal our graceful shutdown handles')
})

t.test('systemd waits longer than the shutdown deadline plus the goodbyes', async (t) => {
  const stop = Number(one('TimeoutStopSec'))
  const deadline = opsSchema.parse({}).shutdownDeadlineSeconds
  const endGrace = 10 // ShutdownController's default endGraceMs
  t.ok(stop > deadline + endGrace, `TimeoutStopSec=${stop} > ${deadline} + ${endGrace}`)
})

t.test('node starts with room in the old generation (full GCs stall every call)', async (t) => {
  const exec = one('ExecStart') ?? ''
  t.match(exec, /^\/usr\/bin\/node --initial-old-space-size=\d+ --max-semi-space-size=\d+ \S+\/bin\/phone-agent\.js serve$/)
  t.ok(Number(/--initial-old-space-size=(\d+)/.exec(exec)?.[1]) >= 128)
  t.equal(Number(/--max-semi-space-size=(\d+)/.exec(exec)?.[1]), 8, 'short scavenges (the bench\'s SERVER_NODE_ARGS run the same)')
})

t.test('realtime priority is refused unless the operator allows it (the opt-in is written out, commented)', async (t) => {
  t.equal(one('RestrictRealtime'), 'yes')
  t.equal(one('LimitRTPRIO'), undefined, 'no realtime limit raised')
  t.match(unit, /^#LimitRTPRIO=1$/m, 'the line to uncomment, as docs/operations.md says')
})
