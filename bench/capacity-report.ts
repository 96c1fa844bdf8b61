import { cell, markdownTable } from './capacity-stats.ts'

/** One ramp step of bench/capacity.ts. Times in ms, memory in MiB ("MB" below). */
export interface CapacityStep {
  readonly calls: number
  /** When its measurement window began, seconds from the start of the run. */
  readonly atSeconds: number
  /** Calls whose caller heard our stream during the step. */
  readonly streaming: number
  /** Calls that ended before the step was measured (refused, failed, timed out). */
  readonly dropped: number
  /** From the first new call placed to every call streaming. */
  readonly rampSeconds: number
  /**
   * Caller side: |interval between two of our frames arriving - 20 ms|, over every call in the
   * window, leaving out intervals a stall of the simulator's own event loop touched.
   */
  readonly jitterMs: { readonly p50: number, readonly p99: number, readonly max: number, readonly intervals: number }
  /** The same over every interval. */
  readonly rawJitterMs: { readonly p50: number, readonly p99: number, readonly max: number, readonly intervals: number }
  /** Share of intervals left out of `jitterMs` (stamped at the end of a driver stall). */
  readonly taintedShare: number
  readonly serverLoopMs: { readonly p50: number, readonly p99: number, readonly max: number }
  /** Server side: the shared frame scheduler's wake-ups, and the cost of serving every call in one. */
  readonly serverPacing: {
    readonly wakeDeviationP50Ms: number
    readonly wakeDeviationP99Ms: number
    readonly tickWorkP99Ms: number
    readonly lateWakeups: number
    readonly skippedFrames: number
  }
  /** CPU time over wall time (1 = one core). */
  readonly serverCpu: number
  readonly serverActiveCalls: number
  readonly rssMB: number
  readonly heapMB: number
  readonly arrayBuffersMB: number
  /** (RSS now - RSS idle) / calls, after a full GC. */
  readonly mbPerCall: number
  readonly heapMbPerCall: number
  /** Buffers outside the JS heap (queued audio) per call. */
  readonly arrayBuffersMbPerCall: number
  /** RSS per call without those buffers: what a call costs beside the audio it holds. */
  readonly nonAudioMbPerCall: number
  /** The simulator's own event-loop delay: above the jitter limit, caller-side timings are the driver's. */
  readonly driverLoopMs: { readonly p50: number, readonly p99: number, readonly max: number }
  /** Times the simulator's loop was busy for more than 5 ms at a stretch in the window. */
  readonly driverStalls: number
  readonly driverCpu: number
  readonly verdict: 'pass' | 'fail' | 'driver-limited'
  readonly reasons: readonly string[]
  /** 2 when the first window failed and this is the second measurement of the same calls. */
  readonly attempt: number
}

export interface CapacityResult {
  /** Largest step with caller-side jitter p99 and server loop delay p99 within limits, every call streaming. */
  readonly capacity: number
  /** Largest step the server itself met its checks (loop delay, own pacing, every call up); >= capacity. */
  readonly serverCapacity: number
  /** Why it stopped there, in words. */
  readonly limitedBy: string
  readonly stoppedBecause: string | undefined
  readonly mbPerCallAtCapacity: number | undefined
  /** RSS per call at the largest step with every call up (the most calls to divide by). */
  readonly mbPerCall: number
  /** The Markdown table and summary (formatCapacityTable of this result). */
  readonly table: string
  /** Where a target is missed and why, one Markdown paragraph each (empty when both are met). */
  readonly notes: readonly string[]
  readonly targets: { readonly calls: number, readonly mbPerCall: number }
  readonly meets: { readonly calls: boolean, readonly mbPerCall: boolean }
  readonly limits: { readonly jitterP99Ms: number, readonly loopDelayP99Ms: number }
  readonly idle: { readonly rssMB: number, readonly heapMB: number } | undefined
  /** The looped prompt; every call holds one decoded copy of it while playing. */
  readonly audio: { readonly seconds: number, readonly pcmMBPerCall: number }
  readonly machine: { readonly cpus: number, readonly cpuModel: string, readonly node: string, readonly loadAverageAtStart: number, readonly pinned: boolean }
  readonly durationSeconds: number
  readonly steps: readonly CapacityStep[]
}

/** The result as Markdown: a table of steps, then the capacity line and what limited it. */
export function formatCapacityTable (r: Omit<CapacityResult, 'table'>): string {
  const header = ['N', 'streaming', 'jitter p50/p99 ms', 'raw jitter p99 ms (tainted)', 'server loop p50/p99 ms', 'server pacing p99 ms',
    'server CPU', 'RSS MB', 'MB/call RSS (without audio)', 'heap MB/call', 'driver loop p99/max ms', 'driver CPU', 'verdict']
  const rows = r.steps.map((s) => [
    String(s.calls),
    `${s.streaming}${s.dropped > 0 ? ` (-${s.dropped})` : ''}`,
    `${cell(s.jitterMs.p50, 0)} / ${cell(s.jitterMs.p99, 0)}`,
    `${cell(s.rawJitterMs.p99, 0)} (${Math.round(s.taintedShare * 100)}%)`,
    `${cell(s.serverLoopMs.p50, 2)} / ${cell(s.serverLoopMs.p99, 2)}`,
    cell(s.serverPacing.wakeDeviationP99Ms, 2),
    cell(s.serverCpu, 2),
    cell(s.rssMB, 0),
    `${cell(s.mbPerCall, 2)} (${cell(s.nonAudioMbPerCall, 2)})`,
    cell(s.heapMbPerCall, 3),
    `${cell(s.driverLoopMs.p99, 1)} / ${cell(s.driverLoopMs.max, 0)}`,
    cell(s.driverCpu, 2),
    s.attempt > 1 ? `${s.verdict} (2nd window)` : s.verdict,
  ])
  const idle = r.idle === undefined ? '' : ` Idle server: RSS ${r.idle.rssMB} MB, heap ${r.idle.heapMB} MB.`
  return [
    markdownTable(header, rows),
    '',
    `**Capacity: ${r.capacity} calls** (target ${r.targets.calls}: ${r.meets.calls ? 'met' : 'not met'}), ` +
      `${r.mbPerCall.toFixed(2)} MB per call ` +
      `(target <= ${r.targets.mbPerCall}: ${r.meets.mbPerCall ? 'met' : 'not met'}). ` +
      `Server-side checks held up to ${r.serverCapacity} calls. Limited by: ${r.limitedBy}.`,
    '',
    `Limits: caller-side jitter p99 <= ${r.limits.jitterP99Ms} ms, server event-loop delay p99 <= ${r.limits.loopDelayP99Ms} ms. ` +
      'Jitter is timed by the simulator in whole milliseconds; intervals touched by a stall of the simulator\'s own ' +
      'event loop (tainted) are left out of it and shown in the raw column. ' +
      `Each call loops a ${r.audio.seconds} s prompt (${r.audio.pcmMBPerCall.toFixed(2)} MB of 8 kHz PCM held per call while it plays).${idle} ` +
      `${r.machine.cpus} x ${r.machine.cpuModel}, Node ${r.machine.node}, load average ${r.machine.loadAverageAtStart} at start, ` +
      `${r.machine.pinned ? 'simulator on CPU 0 and server on CPU 1' : 'processes not pinned'}, ${r.durationSeconds} s.`,
  ].join('\n')
}

/** Why a target was missed, from the numbers of this run. */
export function capacityNotes (r: Omit<CapacityResult, 'table' | 'notes'>): string[] {
  const notes: string[] = []
  const limited = r.steps.filter((s) => s.verdict === 'driver-limited')
  const failed = r.steps.find((s) => s.verdict === 'fail')
  if (!r.meets.calls && limited.length > 0) {
    const last = limited.at(-1) as CapacityStep
    const perHundred = last.driverCpu / last.calls * 100
    notes.push(`**Capacity is limited by the simulator, not measured past it.** The caller side is the FreeSWITCH simulator in ` +
      `JavaScript, emulating the park loop and unicast thread of every call on one event loop (about ${perHundred.toFixed(2)} of a core ` +
      `per 100 calls). From ${limited[0]?.calls ?? '?'} calls on, its own stalls stamp more than 10% of the frames late ` +
      `(${Math.round(last.taintedShare * 100)}% at ${last.calls} calls). The server met its own checks up to ${r.serverCapacity} calls ` +
      `(at ${last.calls}: loop delay p99 ${last.serverLoopMs.p99} ms, pacing p99 ${last.serverPacing.wakeDeviationP99Ms} ms, ` +
      `${last.serverCpu} of a core). Fix: drive the calls from several simulator processes, or a native RTP/unicast load ` +
      'generator, on a machine with more cores than the server needs.')
  }
  if (failed !== undefined && failed.reasons.some((x) => x.startsWith('server'))) {
    notes.push(`**At ${failed.calls} calls the server itself fell behind** (${failed.reasons.filter((x) => x.startsWith('server')).join('; ')}). ` +
      (failed.atSeconds + 5 >= r.audio.seconds
        ? 'The window fell where the first calls of the ramp reached the end of their prompt together and started it again: ' +
          'starting a prompt decodes the whole WAV on the event loop (readFile, parseWav, then StreamSession.play copies it ' +
          'again with int16FromBytes), about 6 ms per 60 s prompt on this machine, and meanwhile the frame clock of every ' +
          'call waits. Fix: decode once per file and share it, or decode in chunks as it plays.'
        : `The server used ${failed.serverCpu} of a core: with that much headroom a late frame clock points at other ` +
          `work on the machine (load average ${r.machine.loadAverageAtStart} at start); run again on a quiet machine.`))
  }
  if (!r.meets.mbPerCall) {
    const s = r.steps.filter((x) => x.streaming === x.calls).at(-1)
    if (s !== undefined) {
      notes.push(`**Memory per call is ${s.mbPerCall.toFixed(2)} MB, almost all of it prompt audio.** ` +
        `${s.arrayBuffersMbPerCall.toFixed(2)} MB per call are ArrayBuffers: each call holds its ${r.audio.seconds} s prompt decoded ` +
        `twice (${r.audio.pcmMBPerCall.toFixed(2)} MB each): the verb's Int16Array, alive for the whole play, and the copy ` +
        'StreamSession.play makes with int16FromBytes. Without the audio a call costs ' +
        `${s.nonAudioMbPerCall.toFixed(2)} MB of RSS (${s.heapMbPerCall.toFixed(3)} MB of heap). Fix: enqueue the Int16Array ` +
        'as it is when the rates match (halves it), and keep one read-only decoded copy per sound file for all calls ' +
        '(the outbound queue only reads from it), or stream long files from disk.')
    }
  }
  return notes
}
