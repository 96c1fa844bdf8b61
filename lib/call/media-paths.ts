import { isAbsolute, join, relative, resolve, sep } from 'node:path'
import { PhoneAgentError, UnsafeValueError } from '../errors.ts'

/**
 * Paths in the shared sounds directory, as we see them and as FreeSWITCH sees them (the same
 * directory, possibly mounted elsewhere when FreeSWITCH runs on another host).
 */
export class MediaPaths {
  readonly soundsDir: string
  readonly freeswitchSoundsDir: string

  constructor (soundsDir: string, freeswitchSoundsDir: string) {
    this.soundsDir = resolve(soundsDir)
    this.freeswitchSoundsDir = freeswitchSoundsDir
  }

  /** Our absolute path -> the path FreeSWITCH must open. Refuses anything outside soundsDir. */
  toFreeswitch (ourPath: string): string {
    const rel = relative(this.soundsDir, resolve(ourPath))
    if (rel.startsWith('..') || isAbsolute(rel)) {
      throw new PhoneAgentError('MEDIA_INVALID', 'file is outside the sounds directory')
    }
    return this.freeswitchSoundsDir.endsWith('/') || rel === ''
      ? this.freeswitchSoundsDir + rel.split(sep).join('/')
      : `${this.freeswitchSoundsDir}/${rel.split(sep).join('/')}`
  }

  /**
   * A script-supplied sound name -> our absolute path. Names are relative to soundsDir
   * (`prompts/welcome.wav`); `..`, absolute paths and odd characters are refused, so a value
   * that came from a caller or a model can never reach another file.
   */
  resolveSound (name: string): string {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_./-]{0,255}$/.test(name) || name.split('/').includes('..')) {
      throw new UnsafeValueError('sound file name')
    }
    return join(this.soundsDir, name)
  }

  /** Where a recording for this call goes: named by call UUID and a counter, nothing else. */
  recordingPath (uuid: string, n: number, now = new Date()): string {
    if (!/^[0-9a-f-]{36}$/.test(uuid)) throw new UnsafeValueError('call uuid')
    const day = now.toISOString().slice(0, 10)
    return join(this.soundsDir, 'recordings', day, `${uuid}-${n}.wav`)
  }
}
