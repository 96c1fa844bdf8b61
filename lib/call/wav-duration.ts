import { open } from 'node:fs/promises'
import { PhoneAgentError } from '../errors.ts'

/**
 * Duration of a PCM WAV file from its header, without reading the audio: `playback` needs it to
 * bound how long we wait for FreeSWITCH to finish the file.
 */
export async function wavDurationMs (path: string): Promise<number> {
  let fh
  try {
    fh = await open(path, 'r')
  } catch (err) {
    throw new PhoneAgentError('MEDIA_INVALID', 'sound file not found or unreadable', { cause: err })
  }
  try {
    const { size } = await fh.stat()
    const head = Buffer.alloc(Math.min(size, 4096))
    await fh.read(head, 0, head.length, 0)
    if (head.toString('ascii', 0, 4) !== 'RIFF' || head.toString('ascii', 8, 12) !== 'WAVE') {
      throw new PhoneAgentError('MEDIA_INVALID', 'sound file is not a WAV file')
    }
    let byteRate = 0
    let off = 12
    while (off + 8 <= head.length) {
      const id = head.toString('ascii', off, off + 4)
      const len = head.readUInt32LE(off + 4)
      if (id === 'fmt ' && off + 16 <= head.length) byteRate = head.readUInt32LE(off + 16)
      if (id === 'data') {
        if (byteRate <= 0) break
        // A streaming writer may leave the data length at 0 or 0xFFFFFFFF: use the file size.
        const dataLen = len === 0 || len === 0xffffffff ? size - off - 8 : Math.min(len, size - off - 8)
        return Math.round((dataLen / byteRate) * 1000)
      }
      off += 8 + len + (len % 2)
    }
    throw new PhoneAgentError('MEDIA_INVALID', 'WAV file has no fmt/data chunk')
  } finally {
    await fh.close()
  }
}
