import t from 'tap'
import { StereoTimeline } from '../../lib/call/recording/stereo.ts'

// A call whose idle ticks send nothing (FreeSWITCH on timerfd: only a keep-alive a second,
// lib/media/stream/quiet-idle.ts) must still record our replies where they were said: FreeSWITCH
// writes nothing on a tick without a datagram of ours (switch_ivr.c unicast_thread_run), so those
// ticks are silence on our side, placed by the time each frame was sent.
const N = 160
const frame = (value: number): Int16Array => new Int16Array(N).fill(value)

function slots (drive: (tl: StereoTimeline) => void): Array<[number, number]> {
  const chunks: Int16Array[] = []
  const tl = new StereoTimeline(8000, (s) => { chunks.push(s) })
  drive(tl)
  tl.finish()
  const out: Array<[number, number]> = []
  for (const c of chunks) for (let i = 0; i + 2 * N <= c.length; i += 2 * N) out.push([c[i] as number, c[i + 1] as number])
  return out
}

t.test('a reply after ticks with nothing sent is placed at its time, beside the caller\'s words it answers', async (t) => {
  const s = slots((tl) => {
    tl.agent(frame(0), 1000) // a keep-alive at 1000 ms
    // The caller's frames from just after it (slot 1 on), speaking in their frames 10-19: slots 11-20.
    for (let k = 0; k < 30; k++) tl.caller(frame(k < 10 ? 0 : k < 20 ? 5 : 0), k * N)
    tl.agent(frame(7), 1000 + 25 * 20) // our reply at slot 25, the lead frame with it
    tl.agent(frame(7), 1000 + 25 * 20)
    tl.agent(frame(7), 1000 + 26 * 20)
  })
  const agent = s.flatMap(([, r], i) => r === 7 ? [i] : [])
  const caller = s.flatMap(([l], i) => l === 5 ? [i] : [])
  t.same(caller, [11, 12, 13, 14, 15, 16, 17, 18, 19, 20], 'the caller where they spoke')
  t.same(agent, [25, 26, 27], 'the reply 25 slots after the keep-alive, as sent (counting frames alone put it at 1-3, over the caller\'s silence before their words)')
})

t.test('sent one a tick (with jitter under a frame), frames stay back to back', async (t) => {
  const s = slots((tl) => {
    for (let k = 0; k < 10; k++) tl.agent(frame(k + 1), 500 + k * 20 + (k % 3) * 6)
  })
  t.same(s.map(([, r]) => r), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
})

t.test('a reply many seconds after the last frame, with no caller frames between, is kept', async (t) => {
  const s = slots((tl) => {
    tl.agent(frame(3), 0)
    tl.agent(frame(4), 5000)
  })
  t.equal(s.length, 251, '5 s of silence between them')
  t.same([s[0]?.[1], s[250]?.[1]], [3, 4])
})
