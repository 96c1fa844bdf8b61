import t from 'tap'
import { Writable } from 'node:stream'
import { createLogger } from '../../lib/ops/logger.ts'

function sink (): { stream: Writable, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>)
      done()
    },
  })
  return { stream, lines }
}

t.test('privacy.maskCallerNumbers masks caller numbers in log records; secrets stay redacted; off by default', async (t) => {
  const masked = sink()
  const log = createLogger('info', masked.stream, undefined, { maskCallerNumbers: true })
  log.child({ call: 'u1', did: '+390212345678' }).info({ caller: '+393331234567', apiKey: 'sk-abc' }, 'call started')
  log.warn({ callerNumber: '0331234567' }, 'connect reply unusable, refusing call')
  log.info({ caller: 'withheld' }, 'new call')
  log.info({ guard: { caller: '+41441234567' } }, 'nested')
  t.match(masked.lines[0], { caller: '+39••••••••67', apiKey: '[redacted]', did: '+390212345678', msg: 'call started' }, 'the caller masked, our own number not')
  t.equal(masked.lines[1]?.callerNumber, '••••••••67')
  t.equal(masked.lines[2]?.caller, 'withheld', 'words are not numbers')
  t.match(masked.lines[3], { guard: { caller: '+41•••••••67' } })
  t.notMatch(JSON.stringify(masked.lines), /3331234567|441234567/)

  const plain = sink()
  createLogger('info', plain.stream).info({ caller: '+393331234567', apiKey: 'sk-abc' }, 'call started')
  t.match(plain.lines[0], { caller: '+393331234567', apiKey: '[redacted]' })
})
