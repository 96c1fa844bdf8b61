import { randomBytes } from 'node:crypto'
import { chmod, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fail, pass, type CheckResult, type DoctorContext } from './types.ts'

/**
 * Can FreeSWITCH read our sounds? A probe file, world-readable as our TTS cache files are, is
 * written into media.soundsDir and looked up at media.freeswitchSoundsDir with FreeSWITCH's
 * `file_exists` (mod_commands.c file_exists_function: switch_file_exists, a stat, which needs
 * search permission on every directory of the path). The probe is removed afterwards.
 */
export async function checkSounds (c: DoctorContext): Promise<CheckResult[]> {
  const name = 'sounds directory'
  const file = `.doctor-probe-${randomBytes(6).toString('hex')}.wav`
  const ours = join(c.input.soundsDir, file)
  try {
    await writeFile(ours, Buffer.alloc(0))
    await chmod(ours, 0o644)
  } catch (err) {
    return [fail(name, `cannot write ${c.input.soundsDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'create media.soundsDir and make it writable for phone-agent')]
  }
  try {
    const theirs = join(c.input.freeswitchSoundsDir, file)
    const seen = (await c.esl.api(`file_exists ${theirs}`)).trim() === 'true'
    return [seen
      ? pass(name, `FreeSWITCH sees ${c.input.freeswitchSoundsDir}`)
      : fail(name, `FreeSWITCH cannot see ${theirs}`, `give FreeSWITCH's user search (x) permission on every directory of ${c.input.freeswitchSoundsDir} (chmod o+x, or a shared group), or set media.freeswitchSoundsDir to the path FreeSWITCH mounts it at`)]
  } finally {
    await rm(ours, { force: true })
  }
}
