import t from 'tap'
import { PeerTable } from '../../lib/media/stream/peer-table.ts'

// The shared socket's calls by FreeSWITCH's source port, then address (udp-mux.ts).

const A = 0x0100007f // 127.0.0.1 as udp-mux.c's inbox holds it on a little-endian host
const B = -0x3f57fef6 // an address whose int32 is negative: 10.1.168.192 read the same way

t.test('finds a call by address and port; another address on the same port is another call', async (t) => {
  const table = new PeerTable<string>()
  t.ok(table.add(A, 16384, 'a'))
  t.ok(table.add(B, 16384, 'b'), 'a second switch sending from the same port')
  t.ok(table.add(A, 16386, 'c'))
  t.equal(table.size, 3)
  t.equal(table.get(A, 16384), 'a')
  t.equal(table.get(B, 16384), 'b')
  t.equal(table.get(A, 16386), 'c')
  t.equal(table.get(B, 16386), undefined, 'a stranger')
  t.equal(table.get(A, 16388), undefined)
})

t.test('one call per address and port: a second is refused and the first kept', async (t) => {
  const table = new PeerTable<string>()
  t.ok(table.add(A, 16384, 'first'))
  t.notOk(table.add(A, 16384, 'second'))
  t.equal(table.get(A, 16384), 'first')
  t.equal(table.size, 1)
})

t.test('delete takes out only the call asked for, wherever it is in its port\'s chain', async (t) => {
  const table = new PeerTable<string>()
  table.add(A, 16384, 'a')
  table.add(B, 16384, 'b')
  table.add(7, 16384, 'c')
  table.delete(A, 16384, 'not a') // another call's value: left alone
  t.equal(table.size, 3)
  table.delete(B, 16384, 'b') // the middle of the chain
  t.equal(table.get(B, 16384), undefined)
  t.equal(table.get(A, 16384), 'a')
  t.equal(table.get(7, 16384), 'c')
  table.delete(7, 16384, 'c') // its head
  t.equal(table.get(A, 16384), 'a')
  table.delete(A, 16384, 'a') // the last one
  t.equal(table.size, 0)
  t.equal(table.get(A, 16384), undefined)
  t.ok(table.add(A, 16384, 'again'), 'the port is free again')
  table.clear()
  t.equal(table.size, 0)
  t.equal(table.get(A, 16384), undefined)
})
