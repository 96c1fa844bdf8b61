import t from 'tap'
import { CallerTimeline } from '../../lib/media/caller-timeline.ts'

// The caller's frames placed on our clock by media time and the least delay seen, not by when
// each happened to arrive (lib/media/caller-timeline.ts).

t.test('late frames and bursts keep their place on the line', async (t) => {
  const timeline = new CallerTimeline()
  const places: number[] = []
  // Frames every 20 ms from 1000; frames 5-9 reach us 60 ms late, all at once, then on time again.
  for (let k = 0; k < 20; k++) {
    const arrival = k >= 5 && k <= 8 ? 1000 + 9 * 20 : 1000 + k * 20
    places.push(timeline.place(k * 20, arrival))
  }
  t.same(places, Array.from({ length: 20 }, (_, k) => 1000 + k * 20), 'each where its audio was')
})

t.test('frames cut from one 30 ms packet share an arrival but not a place', async (t) => {
  const timeline = new CallerTimeline()
  // Packets every 30 ms cut into 20 ms frames: 3 frames per 2 packets, the later ones stamped with the packet that completed them.
  const places = Array.from({ length: 12 }, (_, k) => timeline.place(k * 20, 500 + Math.ceil((k * 20 + 20) / 30) * 30))
  // Once a frame completed at the very end of its packet has come (the third), each is placed where its audio was.
  t.same(places.slice(2).map((p, k) => p - k * 20), new Array(10).fill(places[2]), '20 ms apart, as their audio')
})

t.test('an offset that shrinks is taken at once; one that grows, within two windows', async (t) => {
  const timeline = new CallerTimeline()
  t.equal(timeline.place(0, 130), 130)
  t.equal(timeline.place(20, 140), 140, 'earlier than any before: the line\'s offset is 120')
  t.equal(timeline.place(40, 200), 160, 'a late frame keeps its place')
  // From 1 s of media on, every frame comes 50 ms later than before (media the switch dropped).
  let last = 0
  for (let media = 60; media <= 3000; media += 20) last = timeline.place(media, media + (media >= 1000 ? 170 : 120))
  t.equal(last, 3000 + 170, 'followed within two windows (1 s each)')
})
