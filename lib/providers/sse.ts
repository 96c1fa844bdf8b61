import { StringDecoder } from 'node:string_decoder'

/** One server-sent event: its `event:` name (undefined when none was given) and its data lines joined by `\n`. */
export interface SseEvent {
  readonly event: string | undefined
  readonly data: string
}

/**
 * Server-sent events from a response body, as the HTML standard's "event stream interpretation"
 * reads them: lines end in LF, CRLF or CR; `data:` lines accumulate; a blank line dispatches (an
 * event with no data line is dropped); `:` starts a comment; one space after the colon is not
 * part of the value; `id` and `retry` are ignored (we never reconnect a stream). An event the
 * stream ends in the middle of is dropped, as the standard says. UTF-8 sequences split between
 * socket reads are joined (StringDecoder).
 */
export async function * sseEvents (body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent, void, undefined> {
  const decoder = new StringDecoder('utf8')
  let buffered = ''
  // A CR that ended a read may be the first half of a CRLF: held until the next read says.
  let heldCr = false
  let event: string | undefined
  let data: string | undefined
  for await (const chunk of body) {
    let text = decoder.write(chunk as Buffer)
    if (heldCr) text = `\r${text}`
    heldCr = text.endsWith('\r')
    if (heldCr) text = text.slice(0, -1)
    if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n')
    buffered += text
    let at = 0
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n', at)) {
      const line = buffered.slice(at, nl)
      at = nl + 1
      if (line === '') {
        if (data !== undefined) yield { event, data }
        event = undefined
        data = undefined
        continue
      }
      const colon = line.indexOf(':')
      if (colon === 0) continue
      const field = colon === -1 ? line : line.slice(0, colon)
      let value = colon === -1 ? '' : line.slice(colon + 1)
      if (value.startsWith(' ')) value = value.slice(1)
      if (field === 'data') data = data === undefined ? value : `${data}\n${value}`
      else if (field === 'event') event = value
    }
    buffered = at === 0 ? buffered : buffered.slice(at)
  }
  // A final CR ended a line: the event it completes, if that line was blank, is dispatched.
  if (heldCr && buffered === '' && data !== undefined) yield { event, data }
}
