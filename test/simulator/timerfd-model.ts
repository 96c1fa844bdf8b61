/**
 * When Linux's timerfd write timer writes each of our frames, with the unicast thread stalled
 * over `stalls` ([from, to) ms on the call timeline): the thread reads a datagram when it runs;
 * a timer read during a stall returns when it ends and takes every expiry due by then
 * (switch_ivr.c unicast_thread_run, switch_time.c _timerfd_next). Written apart from the
 * simulator (lib/simulator/ear.ts, whose default is the stricter matrix timer): tests compare the
 * matrix with it, and the simulator's own 'timerfd' write timer against it.
 */
export function timerfdWithStalls (stalls: ReadonlyArray<readonly [number, number]>): (arrival: number) => number {
  const running = (at: number): number => {
    let x = at
    for (const [from, to] of stalls) if (x >= from && x < to) x = to
    return x
  }
  let consumed = Number.NEGATIVE_INFINITY
  let last = Number.NEGATIVE_INFINITY
  return (arrival) => {
    const at = running(Math.max(arrival, last))
    const tick = Math.floor(at / 20)
    if (consumed < tick) { consumed = tick; last = at } else { consumed++; last = consumed * 20 }
    const resumed = running(last)
    if (resumed !== last) { last = resumed; consumed = Math.floor(resumed / 20) }
    return last
  }
}
