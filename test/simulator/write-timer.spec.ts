import t from 'tap'
import { CallerEar } from '../../lib/simulator/ear.ts'

// FreeSWITCH writes our unicast frames on its RTP write timer (switch_rtp.c get_next_write_ts ->
// switch_core_timer_next; switch_time.c timer_next): see CallerEar.queueUnicast. Times are ms on
// the call timeline, whose 20 ms grid is the switch's timer tick.
const frame = (): Int16Array => new Int16Array(160).fill(1000)
const play = (ear: CallerEar, at: number): number => ear.queueUnicast(frame(), at).playMs

t.test('each write waits for the tick after the previous write', async (t) => {
  const ear = new CallerEar()
  t.same([5, 25, 45, 65].map((at) => play(ear, at)), [20, 40, 60, 80], 'frames 5 ms past the tick are held 15 ms each: the switch\'s grid, not ours')
})

t.test('a frame that arrives after its tick was due goes out at once', async (t) => {
  const ear = new CallerEar()
  play(ear, 5)
  t.equal(play(ear, 41), 41, 'last write at tick 1, arrival in tick 2: timer_next returns at once')
  t.equal(play(ear, 61), 61, 'and so on while each arrives in the tick after the last write')
  t.equal(play(ear, 70), 81, 'a second frame in the same tick (a reply\'s first frame off the grid) is written at the next tick (80) and heard once the frame before it has played (81)')
})

t.test('after two or more ticks with no write the timer is synced: the frame waits for the next tick', async (t) => {
  const ear = new CallerEar()
  play(ear, 5)
  t.equal(play(ear, 93), 100, 'no write since tick 1, arrival in tick 4: written at tick 5')
  t.equal(play(ear, 94), 120, 'the next frame in the same tick: the tick after')
})
