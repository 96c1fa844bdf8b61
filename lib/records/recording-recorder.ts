import { cleanText, QueuedCallRecorder, type RecorderDeps } from './recorder.ts'
import type { CallStart, EndInput } from './types.ts'

/**
 * A call's recorder that also keeps the whole-call recording's path and length on the call's
 * row: the path with the record's first batch (so a crash cannot lose the link), then at the
 * end the length, or the path cleared when no recording was made. Both are ordinary queued
 * writes, committed in order with the rest of the call's.
 */
export class RecordingCallRecorder extends QueuedCallRecorder {
  readonly #deps: RecorderDeps
  readonly #recorded: boolean
  #settled = false

  constructor (start: CallStart, deps: RecorderDeps) {
    super(start, deps)
    this.#deps = deps
    const path = typeof start.recordingPath === 'string' && start.recordingPath !== '' ? cleanText(start.recordingPath, 4096) : undefined
    this.#recorded = path !== undefined
    if (path !== undefined) this.#set('recording_path', path)
  }

  override end (end: EndInput): Promise<void> {
    if (this.#recorded && !this.#settled && end.recording !== undefined) {
      this.#settled = true
      const duration = end.recording?.durationMs
      if (typeof duration === 'number' && Number.isFinite(duration)) this.#set('recording_ms', Math.round(duration))
      else this.#set('recording_path', null)
    }
    return super.end(end)
  }

  #set (column: 'recording_path' | 'recording_ms', value: string | number | null): void {
    this.#deps.sink.enqueue({ uuid: this.uuid, queuedAt: this.#deps.now(), kind: 'set', column, value })
  }
}
