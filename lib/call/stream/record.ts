import { WavFileWriter } from '../../media/wav-writer.ts'
import type { VerbContext } from '../context.ts'
import type { Recording, RecordOptions } from '../verbs/record.ts'

/** With no speech at all, stop after the silence window plus this (FreeSWITCH counts from the start too). */
const NO_SPEECH_GRACE_MS = 3000
/** The wall-clock limit's margin over the recording's maximum length (frames arrive with jitter). */
const WALL_CLOCK_SLACK_MS = 1000
const WATCHDOG_MS = 100

/**
 * Stream mode `record`: we write the file from the caller's stream (FreeSWITCH's `record`
 * would end unicast for good). Ends on max length, after `silence.seconds` of silence once the
 * caller has spoken, or on hangup, keeping what was said.
 *
 * The file is written while the caller speaks (WavFileWriter: half a second held in memory at
 * most), so a crash of this process leaves all but the last moment on disk for start-up to
 * repair. `onStart` runs once the file exists (the verb opens the message row there).
 */
export async function recordStream (ctx: VerbContext, path: string, maxSeconds: number, options: RecordOptions, onStart: () => void = () => {}): Promise<Recording | undefined> {
  const session = await ctx.stream()
  const silenceMs = options.silence === false ? undefined : (options.silence?.seconds ?? 1) * 1000
  const writer = await WavFileWriter.create(path, { sampleRate: session.rate, channels: 1 })
  onStart()
  const vad = session.newVad(silenceMs === undefined ? {} : { endSilenceMs: silenceMs })
  let samples = 0
  const maxSamples = maxSeconds * session.rate
  let heardSpeech = false
  let firstAt: number | undefined
  // Frames normally pace the recording; the wall clock bounds it too, so a stream that stops
  // delivering (not even FreeSWITCH's 0xFF fill) ends it like silence instead of holding the call.
  const startedAt = Date.now()
  let lastFrameAt = startedAt
  const stop = new AbortController()
  const watchdog = setInterval(() => {
    const now = Date.now()
    const quietLimit = silenceMs === undefined ? undefined : silenceMs + (heardSpeech ? 0 : NO_SPEECH_GRACE_MS)
    if (now - startedAt > maxSeconds * 1000 + WALL_CLOCK_SLACK_MS || (quietLimit !== undefined && now - lastFrameAt > quietLimit)) stop.abort()
  }, WATCHDOG_MS)
  const signal = AbortSignal.any([ctx.signal, stop.signal, ...(options.signal ? [options.signal] : [])])
  try {
    for await (const frame of session.endpoint.frames({ signal })) {
      lastFrameAt = Date.now()
      writer.write(frame.samples)
      samples += frame.samples.length
      firstAt ??= frame.mediaMs
      const event = vad.push(frame.samples, frame.mediaMs)
      if (event?.type === 'speech-start') heardSpeech = true
      if (silenceMs !== undefined && event?.type === 'speech-end') break
      if (samples >= maxSamples) break
      if (silenceMs !== undefined && !heardSpeech && frame.mediaMs - firstAt > silenceMs + NO_SPEECH_GRACE_MS) break
    }
  } catch (err) {
    // A hangup ends the stream; the message so far is kept (the caller's last words count most).
    if (ctx.channel.isUp) {
      await writer.discard()
      throw err
    }
  } finally {
    clearInterval(watchdog)
    vad.close()
  }
  const hungUp = !ctx.channel.isUp
  if (samples === 0 || !heardSpeech) {
    ctx.log.info({ hungUp, heardSpeech }, 'recording is empty')
    await writer.discard()
    return undefined
  }
  try {
    await writer.close()
  } catch (err) {
    await writer.discard()
    throw err
  }
  return { path, durationMs: Math.round(samples * 1000 / session.rate), hungUp }
}
