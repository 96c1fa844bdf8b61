import { randomUUID } from 'node:crypto'

export interface MultipartFile {
  readonly field: string
  readonly filename: string
  readonly contentType: string
  /** The file's bytes in pieces (a WAV header and the samples): copied once, into the body. */
  readonly parts: readonly Uint8Array[]
}

/**
 * A multipart/form-data body (RFC 7578) of text fields and one file, built in one buffer: the
 * file's pieces are copied straight into it, no intermediate WAV, Blob or stream. The boundary
 * is random per body, so no field value can end a part early.
 */
export function multipartBody (fields: ReadonlyArray<readonly [string, string]>, file: MultipartFile): { body: Buffer, contentType: string } {
  const boundary = `phone-agent-${randomUUID()}`
  let head = ''
  for (const [name, value] of fields) head += `--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`
  head += `--${boundary}\r\ncontent-disposition: form-data; name="${file.field}"; filename="${file.filename}"\r\ncontent-type: ${file.contentType}\r\n\r\n`
  const tail = `\r\n--${boundary}--\r\n`
  let fileBytes = 0
  for (const p of file.parts) fileBytes += p.length
  const headBytes = Buffer.byteLength(head)
  const body = Buffer.allocUnsafe(headBytes + fileBytes + tail.length)
  body.write(head, 0)
  let at = headBytes
  for (const p of file.parts) { body.set(p, at); at += p.length }
  body.write(tail, at, 'latin1')
  return { body, contentType: `multipart/form-data; boundary=${boundary}` }
}
