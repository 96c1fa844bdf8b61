import { copyFile, mkdir, rename, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { isPhoneAgentError } from '../../errors.ts'
import { BEEP_FILE } from '../../media/beep.ts'
import type { VerbContext } from '../context.ts'
import { wavDurationMs } from '../wav-duration.ts'
import { answer } from './answer.ts'
import { playPath } from './play.ts'
import { recordStream } from '../stream/record.ts'

export interface RecordOptions {
  /** Longest message, in seconds. */
  readonly maxSeconds?: number
  /** Silence detection: energy threshold (FreeSWITCH's default scale, 200 suits phone lines) and seconds of silence that end the recording. */
  readonly silence?: { readonly threshold?: number, readonly seconds?: number } | false
  readonly signal?: AbortSignal | undefined
  /**
   * File the recording as a message the caller left: it is listed with the call record and the
   * outcome becomes message_taken. Default true; false for audio that is not a message (a name
   * to play back, a sample for a test).
   */
  readonly asMessage?: boolean
  /** Play the tone (sounds/beep.wav) just before recording starts. Default true: prompts promise it. */
  readonly beep?: boolean
}

export interface Recording {
  /** Absolute path under sounds/recordings/. */
  readonly path: string
  readonly durationMs: number
  /** True when the caller hung up while recording (the message is kept). */
  readonly hungUp: boolean
}

/** How long FreeSWITCH gets, after a hangup, to close the file and report. */
const AFTER_HANGUP_MS = 3000

/**
 * Record the caller with FreeSWITCH's `record` application
 * (`record PATH MAX_SECONDS SILENCE_THRESHOLD SILENCE_HITS`, switch_ivr_record_file), which stops
 * on max length or after the silence. The file name comes from the call UUID and a counter only.
 */
export async function record (ctx: VerbContext, options: RecordOptions = {}): Promise<Recording | undefined> {
  const maxSeconds = clampInt(options.maxSeconds ?? 60, 1, 3600)
  const path = ctx.media.recordingPath(ctx.channel.uuid, ctx.status.nextRecording())
  await mkdir(dirname(path), { recursive: true })
  await answer(ctx)
  if (options.beep !== false) await playPath(ctx, await beepPath(ctx.media.soundsDir), { signal: options.signal })
  // The message row exists from the moment the recording starts, marked `recording`: if this
  // process dies mid-message, start-up finds the row, repairs the file and marks it recovered.
  const asMessage = options.asMessage !== false
  let opened = false
  const open = (): void => {
    if (asMessage) messageRow(ctx, path, 'recording')
    opened = asMessage
  }
  try {
    const recording = ctx.mediaMode === 'stream'
      ? await recordStream(ctx, path, maxSeconds, options, open)
      : await recordFiles(ctx, path, maxSeconds, options, open)
    if (recording !== undefined && asMessage) recordMessage(ctx, recording)
    else if (opened) messageRow(ctx, path, 'discarded')
    return recording
  } catch (err) {
    if (opened) messageRow(ctx, path, 'discarded')
    throw err
  }
}

/**
 * Files mode: FreeSWITCH writes the file itself, so a crash of this process loses no audio; only
 * the row needs to exist before the application runs. switch_ivr_record_file_event()
 * (src/switch_ivr_play_say.c) leaves its read loop on silence, the limit, a break or a channel
 * that is no longer ready (the caller hung up on a dead line), and always ends with
 * switch_core_file_close(), where the format module writes the final header. The simulator's
 * `record` writes its file at the same point (test/records/message-crash.test.ts).
 */
async function recordFiles (ctx: VerbContext, path: string, maxSeconds: number, options: RecordOptions, onStart: () => void): Promise<Recording | undefined> {
  const fsPath = ctx.media.toFreeswitch(path)
  const silence = options.silence === false ? undefined : (options.silence ?? {})
  const arg = silence === undefined
    ? `${fsPath} ${maxSeconds}`
    : `${fsPath} ${maxSeconds} ${clampInt(silence.threshold ?? 200, 1, 10000)} ${clampInt(silence.seconds ?? 1, 1, 60)}`
  onStart()
  try {
    await ctx.channel.execute('record', arg, {
      timeoutMs: (maxSeconds + 10) * 1000,
      signal: options.signal,
      afterHangupMs: AFTER_HANGUP_MS,
    })
  } catch (err) {
    // The completion never came after a hangup: FreeSWITCH may still have written the file.
    if (!isPhoneAgentError(err, 'ESL_TIMEOUT') || ctx.channel.isUp) throw err
  }
  const hungUp = !ctx.channel.isUp
  const size = await stat(path).then((s) => s.size, () => 0)
  if (size <= 44) {
    ctx.log.info({ hungUp }, 'recording is empty')
    return undefined
  }
  const durationMs = await wavDurationMs(path).catch(() => 0)
  return { path, durationMs, hungUp }
}

const beepCopies = new Map<string, Promise<string>>()

/**
 * The tone inside the sounds directory, where FreeSWITCH can play it in files mode (it may run
 * on another host and see only that directory). Copied once per process, atomically, so a call
 * never meets half a file.
 */
async function beepPath (soundsDir: string): Promise<string> {
  let copy = beepCopies.get(soundsDir)
  if (copy === undefined) {
    copy = (async () => {
      const target = join(soundsDir, 'phone-agent', 'beep.wav')
      const [want, have] = await Promise.all([stat(BEEP_FILE), stat(target).catch(() => undefined)])
      if (have?.size !== want.size) {
        await mkdir(dirname(target), { recursive: true })
        const tmp = `${target}.${process.pid}.tmp`
        await copyFile(BEEP_FILE, tmp)
        await rename(tmp, target)
      }
      return target
    })()
    copy.catch(() => { beepCopies.delete(soundsDir) })
    beepCopies.set(soundsDir, copy)
  }
  return await copy
}

/**
 * A recording the caller left as a message: kept with the call record. Completes the row the
 * recording opened (same path), or files a new one.
 */
export function recordMessage (ctx: VerbContext, recording: Recording, text = ''): void {
  ctx.recorder.message({ ...caller(ctx), text, recordingPath: recording.path, durationMs: recording.durationMs, at: Date.now() })
  ctx.status.tookMessage()
}

function messageRow (ctx: VerbContext, path: string, status: 'recording' | 'discarded'): void {
  ctx.recorder.message({ ...caller(ctx), text: '', recordingPath: path, status, at: Date.now() })
}

function caller (ctx: VerbContext): { number: string | undefined, name: string | undefined } {
  return { number: ctx.channel.data.callerNumber || undefined, name: ctx.channel.data.callerName || undefined }
}

function clampInt (n: number, min: number, max: number): number {
  if (!Number.isFinite(n)) return min
  return Math.min(max, Math.max(min, Math.round(n)))
}
