import t from 'tap'
import { CallerEar } from '../../lib/simulator/ear.ts'

// CallerEar.stoppedAfterMs: when the audio the caller was hearing at a moment stopped. Barge-in
// checks use it; lastHeardEndMs runs on into the agent's next reply when that starts in the window.
const loud = (): Int16Array => new Int16Array(160).fill(1000)
const quiet = (): Int16Array => new Int16Array(160)
function playFrames (ear: CallerEar, fromMs: number, toMs: number, make: () => Int16Array): void {
  for (let at = fromMs; at < toMs; at += 20) ear.writeNow(make(), at)
}

t.test('the audio playing at a moment stops at its first quiet frame, not at a later reply', async (t) => {
  const ear = new CallerEar()
  playFrames(ear, 0, 200, loud)
  playFrames(ear, 200, 1000, quiet)
  playFrames(ear, 1000, 1040, loud)
  t.equal(ear.stoppedAfterMs(50, 200), 200, 'stopped where the quiet began')
  t.equal(ear.lastHeardEndMs(1100, 200), 1040, 'the last loud frame in the window is the later reply')
  t.equal(ear.stoppedAfterMs(1010, 200), 1040, 'the later reply ends with its last frame')
})

t.test('a stretch with no frame at all ends the audio too', async (t) => {
  const ear = new CallerEar()
  playFrames(ear, 0, 100, loud)
  playFrames(ear, 500, 600, loud)
  t.equal(ear.stoppedAfterMs(30, 200), 100)
  t.equal(ear.stoppedAfterMs(500, 200), 600)
})

t.test('nothing loud playing at the moment: it stopped then', async (t) => {
  const ear = new CallerEar()
  playFrames(ear, 0, 100, quiet)
  playFrames(ear, 100, 200, loud)
  t.equal(ear.stoppedAfterMs(40, 200), 40)
  t.equal(ear.stoppedAfterMs(300, 200), 300, 'after everything')
  t.equal(new CallerEar().stoppedAfterMs(10), 10, 'an ear that heard nothing')
})

t.test('gapsStop false: a stretch with no frame (a stall of the sender) does not end the audio; a quiet frame does', async (t) => {
  const ear = new CallerEar()
  playFrames(ear, 0, 100, loud)
  playFrames(ear, 500, 600, loud) // the sender stalled 400 ms and went on talking
  playFrames(ear, 600, 700, quiet) // then it stopped: silence
  playFrames(ear, 900, 960, loud) // its next reply
  t.equal(ear.stoppedAfterMs(30, 200), 100, 'by default the gap ends it')
  t.equal(ear.stoppedAfterMs(30, 200, false), 600, 'here the first quiet frame does')
  t.equal(ear.stoppedAfterMs(950, 200, false), 960, 'or the end of what was heard')
  t.equal(ear.stoppedAfterMs(300, 200, false), 300, 'nothing playing at the moment: it stopped then')
})
