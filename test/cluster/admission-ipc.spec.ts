import t from 'tap'
import { EventEmitter } from 'node:events'
import { ipcAdmissionStore, serveAdmission, type IpcPort } from '../../lib/cluster/admission-ipc.ts'
import { ratesSchema } from '../../lib/guard/config.ts'
import { createMemoryStore } from '../../lib/guard/store.ts'
import type { PrimaryMessage, WorkerMessage } from '../../lib/cluster/protocol.ts'

const rates = ratesSchema.parse({ perCallerPerMinute: 2, fallbackPerMinute: 1 })

/** Both ends of one worker's IPC channel, in process; messages go through JSON as on the real channel. */
function channel (): { worker: IpcPort<WorkerMessage, PrimaryMessage>, primary: IpcPort<PrimaryMessage, WorkerMessage>, close: () => void } {
  const toPrimary = new EventEmitter()
  const toWorker = new EventEmitter()
  let open = true
  const port = <Out, In>(out: EventEmitter, inbox: EventEmitter): IpcPort<Out, In> => ({
    send: (message) => {
      if (!open) throw new Error('channel closed')
      const copy = JSON.parse(JSON.stringify(message)) as unknown
      setImmediate(() => { out.emit('message', copy) })
    },
    onMessage: (handler) => {
      const listener = (m: In): void => { handler(m) }
      inbox.on('message', listener)
      return () => { inbox.off('message', listener) }
    },
  })
  return { worker: port(toPrimary, toWorker), primary: port(toWorker, toPrimary), close: () => { open = false } }
}

t.test('two workers share the primary store: one cap, one rate budget per caller', async (t) => {
  const shared = createMemoryStore(rates)
  const a = channel()
  const b = channel()
  serveAdmission(shared, a.primary)
  serveAdmission(shared, b.primary)
  const wa = ipcAdmissionStore(a.worker)
  const wb = ipcAdmissionStore(b.worker)
  t.equal(await wa.acquire('call-1', 1), true, 'the first worker takes the only slot')
  t.equal(await wb.acquire('call-2', 1), false, 'the second worker finds it taken')
  t.equal(await wb.active(), 1)
  await wa.release('call-1')
  t.equal(await wb.acquire('call-2', 1), true, 'free again once released')
  t.equal(await wa.consume('+393331234567'), 'ok')
  t.equal(await wb.consume('+393331234567'), 'ok')
  t.equal(await wa.consume('+393331234567'), 'rate_caller_minute', 'the per-caller limit counts both workers')
  t.equal(await wa.consumeFallback(), true)
  t.equal(await wb.consumeFallback(), false)
  t.same(await Promise.all([wa.acquire('x', 5, { reserved: 1, contact: false }), wb.acquire('y', 5, { reserved: 1, contact: true })]), [true, true], 'the reserve for contacts goes over the wire too')
  await wa.close()
  await wb.close()
})

t.test("a dead worker's slots are freed", async (t) => {
  const shared = createMemoryStore(rates)
  const a = channel()
  const served = serveAdmission(shared, a.primary)
  const wa = ipcAdmissionStore(a.worker)
  t.equal(await wa.acquire('call-1', 2), true)
  t.equal(await wa.acquire('call-2', 2), true)
  t.equal(await shared.active(), 2)
  a.close()
  served.stop()
  await served.releaseAll()
  t.equal(await shared.active(), 0, 'both slots back')
  await wa.close()
})

t.test('a closed channel or a failing store is an error the guard sees (it then refuses the call)', async (t) => {
  const a = channel()
  const failing = { ...createMemoryStore(rates), acquire: async () => { throw new Error('disk on fire') } }
  serveAdmission(failing, a.primary)
  const wa = ipcAdmissionStore(a.worker)
  await t.rejects(wa.acquire('call-1', 1), /disk on fire/)
  a.close()
  await t.rejects(wa.consume('+393331234567'), /IPC channel is closed/)
  await wa.close()
})
