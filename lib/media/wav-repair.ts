import { open } from 'node:fs/promises'
import { parseWavLayout } from './wav.ts'

/** Enough to reach the data chunk of any WAV a recorder writes (LIST/fact chunks before it included). */
const HEAD_BYTES = 64 * 1024

export type WavRepair =
  /** The header already matched the file (a recording that ended normally). */
  | { readonly status: 'intact', readonly dataBytes: number, readonly durationMs: number }
  /** Sizes were rewritten from the file length; a trailing partial sample was cut. */
  | { readonly status: 'repaired', readonly dataBytes: number, readonly durationMs: number }
  /** Not a PCM WAV this code can vouch for: left exactly as it was. */
  | { readonly status: 'not-wav', readonly reason: string }

/**
 * Fix the sizes in the header of a WAV whose writer died before patching them: our recorder
 * (0xFFFFFFFF placeholders), a writer that left zeros, or a header patched while the file was
 * still growing. Only the two size fields are written and a partial last sample is truncated;
 * the audio is never touched, so running it on a good file, or twice, changes nothing.
 */
export async function repairWavHeader (path: string): Promise<WavRepair> {
  const fh = await open(path, 'r+')
  try {
    const { size } = await fh.stat()
    const head = Buffer.alloc(Math.min(size, HEAD_BYTES))
    await fh.read(head, 0, head.length, 0)
    let layout
    try {
      layout = parseWavLayout(head)
    } catch (err) {
      return { status: 'not-wav', reason: err instanceof Error ? err.message : String(err) }
    }
    const blockAlign = layout.channels * layout.bitsPerSample / 8
    const available = size - layout.dataOffset
    const whole = available - (available % blockAlign)
    const declared = layout.declaredDataBytes
    const durationMs = (bytes: number): number => Math.round(bytes * 1000 / (layout.sampleRate * blockAlign))
    const pad = declared & 1
    // Data was the last chunk when the header was written, and the file grew since: the header
    // was patched mid-recording, then the writer died.
    const stale = declared < available && layout.declaredRiffBytes + 8 === layout.dataOffset + declared + pad
    const placeholder = declared > available || (declared === 0 && available > 0)
    // A header that counts a torn last sample (only a writer that died mid-sample leaves one).
    const torn = declared === available && whole < available
    if (!placeholder && !stale && !torn) return { status: 'intact', dataBytes: declared, durationMs: durationMs(declared) }
    const sizes = Buffer.alloc(4)
    sizes.writeUInt32LE(whole, 0)
    await fh.write(sizes, 0, 4, layout.dataOffset - 4)
    sizes.writeUInt32LE(layout.dataOffset + whole - 8, 0)
    await fh.write(sizes, 0, 4, 4)
    if (whole < available) await fh.truncate(layout.dataOffset + whole)
    return { status: 'repaired', dataBytes: whole, durationMs: durationMs(whole) }
  } finally {
    await fh.close()
  }
}
