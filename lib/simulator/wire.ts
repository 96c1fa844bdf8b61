/**
 * The Event Socket wire format exactly as mod_event_socket writes and reads it.
 * Sources (signalwire/freeswitch): src/mod/event_handlers/mod_event_socket/mod_event_socket.c
 * (read_packet, listener_run, send_disconnect), src/switch_event.c (switch_event_serialize,
 * switch_event_serialize_json_obj), src/switch_utils.c (switch_url_encode_opt) and
 * src/include/switch_utils.h (SWITCH_URL_UNSAFE).
 */

export type Header = readonly [name: string, value: string]

const URL_UNSAFE = new Set(Buffer.from('\r\n #%&+:;<=>?@[\\]^`{|}"', 'latin1'))
const HEX = '0123456789ABCDEF'
const HEX_CODES = new Set(Buffer.from(HEX, 'latin1'))

/**
 * switch_url_encode(): byte-wise over UTF-8, so every byte >= 0x80 becomes %XX (C `char` is
 * signed there, so `*p < ' '` holds for them). An existing %XX with UPPER-case hex is left
 * alone because switch_url_encode() passes double_encode = FALSE.
 */
export function urlEncode (value: string): string {
  const bytes = Buffer.from(value, 'utf8')
  let out = ''
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number
    if (b === 0x25 && i + 2 < bytes.length &&
        HEX_CODES.has(bytes[i + 1] as number) && HEX_CODES.has(bytes[i + 2] as number)) {
      out += '%'
      continue
    }
    if (b < 0x20 || b > 0x7e || URL_UNSAFE.has(b)) {
      out += '%' + HEX[b >> 4] + HEX[b & 0x0f]
    } else {
      out += String.fromCharCode(b)
    }
  }
  return out
}

/** switch_event_serialize(event, &str, SWITCH_TRUE): url-encoded values, `_undef_` for empty ones. */
export function serializePlain (headers: readonly Header[], body?: string): string {
  let out = ''
  for (const [name, value] of headers) {
    const enc = urlEncode(value)
    out += `${name}: ${enc === '' ? '_undef_' : enc}\n`
  }
  if (body !== undefined && body.length > 0) {
    // strlen() of the body: a byte count, like the outer Content-Length.
    out += `Content-Length: ${Buffer.byteLength(body, 'utf8')}\n\n${body}`
  } else {
    out += '\n'
  }
  return out
}

/**
 * switch_event_serialize_json(): cJSON_PrintUnformatted of the headers in order (duplicates
 * kept, as cJSON_AddItemToObject allows), then Content-Length and _body when there is a body.
 * JSON.stringify escapes strings the way cJSON does (\b \f \n \r \t, \u00xx, raw UTF-8).
 */
export function serializeJson (headers: readonly Header[], body?: string): string {
  const parts = headers.map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`)
  if (body !== undefined) {
    parts.push(`"Content-Length":${JSON.stringify(String(Buffer.byteLength(body, 'utf8')))}`)
    parts.push(`"_body":${JSON.stringify(body)}`)
  }
  return `{${parts.join(',')}}`
}

/** switch_event_xmlize() rendered without indentation; approximate (our product never uses xml). */
export function serializeXml (headers: readonly Header[], body?: string): string {
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  let out = '<event>\n  <headers>\n'
  for (const [name, value] of headers) out += `    <${name}>${esc(urlEncode(value))}</${name}>\n`
  out += '  </headers>\n'
  if (body !== undefined && body.length > 0) {
    out += `  <Content-Length>${Buffer.byteLength(body, 'utf8')}</Content-Length>\n  <body>${esc(body)}</body>\n`
  }
  return out + '</event>'
}

/** listener_run(): a reply starting with '~' carries its own headers and blank line. */
export function commandReplyFrame (reply: string): string {
  if (reply.startsWith('~')) return `Content-Type: command/reply\n${reply.slice(1)}`
  return `Content-Type: command/reply\nReply-Text: ${reply}\n\n`
}

/** read_packet(): Content-Length first, then Content-Type, as FreeSWITCH writes event frames. */
export function eventFrame (ebuf: string, format: 'plain' | 'json' | 'xml'): string {
  return `Content-Length: ${Buffer.byteLength(ebuf, 'utf8')}\nContent-Type: text/event-${format}\n\n${ebuf}`
}

/** api_exec(): an empty reply becomes "-ERR no reply\n". */
export function apiResponseFrame (reply: string): string {
  const text = reply === '' ? '-ERR no reply\n' : reply
  return `Content-Type: api/response\nContent-Length: ${Buffer.byteLength(text, 'utf8')}\n\n${text}`
}

export const GOODBYE = 'Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n'

/** send_disconnect() for a listener bound to a session. */
export function disconnectFrame (uuid: string, message = GOODBYE): string {
  return 'Content-Type: text/disconnect-notice\n' +
    `Controlled-Session-UUID: ${uuid}\n` +
    'Content-Disposition: disconnect\n' +
    `Content-Length: ${Buffer.byteLength(message, 'utf8')}\n\n${message}`
}

/** read_packet(): the notice sent once when the channel goes down and `linger` is on. */
export function lingerFrame (uuid: string, channelName: string, lingerTime: number): string {
  return 'Content-Type: text/disconnect-notice\n' +
    `Controlled-Session-UUID: ${uuid}\n` +
    'Content-Disposition: linger\n' +
    `Channel-Name: ${channelName}\n` +
    `Linger-Time: ${lingerTime}\n` +
    'Content-Length: 0\n\n'
}

/** One packet as read_packet() builds it: a Command header, the other headers, an optional body. */
export class Packet {
  constructor (
    /** The first line (FreeSWITCH keeps the whole block, but every handler cuts at the first CR/LF). */
    readonly command: string,
    /** The whole header block, for the handlers that strstr() it (myevents json/xml). */
    readonly raw: string,
    readonly headers: readonly Header[],
    readonly body: string | undefined,
  ) {}

  /** switch_event_get_header(): case-insensitive, first match. */
  get (name: string): string | undefined {
    const lower = name.toLowerCase()
    return this.headers.find(([n]) => n.toLowerCase() === lower)?.[1]
  }
}

const MAX_LEN = 10485760

/**
 * Incremental read_packet(): skips CR/LF before a packet, ends the header block at the
 * second LF (CRs do not reset the count), splits lines on runs of CR/LF, splits headers at
 * the first ':' and skips the spaces after it, reads a body only for Content-Length > 0.
 */
export class PacketReader {
  private buf: Buffer = Buffer.alloc(0)

  push (data: Buffer): Packet[] {
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data])
    const out: Packet[] = []
    for (;;) {
      const packet = this.next()
      if (packet === undefined) return out
      out.push(packet)
    }
  }

  get pending (): number {
    return this.buf.length
  }

  private next (): Packet | undefined {
    let start = 0
    while (start < this.buf.length && (this.buf[start] === 0x0d || this.buf[start] === 0x0a)) start++
    if (start > 0) this.buf = this.buf.subarray(start)
    let lf = 0
    let end = -1
    for (let i = 0; i < this.buf.length; i++) {
      const b = this.buf[i]
      if (b === 0x0a) lf++
      else if (b !== 0x0d) lf = 0
      if (lf === 2 || i + 1 >= MAX_LEN) { end = i + 1; break }
    }
    if (end < 0) return undefined
    const raw = this.buf.toString('utf8', 0, end)
    const lines = raw.split(/[\r\n]+/).filter((l) => l.length > 0)
    const command = lines[0] ?? ''
    const headers: Header[] = []
    let clen = 0
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':')
      if (colon < 0) continue
      const name = line.slice(0, colon)
      const value = line.slice(colon + 1).replace(/^ +/, '')
      headers.push([name, value])
      if (name.toLowerCase() === 'content-length') clen = Number.parseInt(value, 10) || 0
    }
    let body: string | undefined
    if (clen > 0) {
      if (this.buf.length < end + clen) return undefined
      // switch_event_add_body(event, "%s", body): stops at the first NUL.
      body = this.buf.toString('utf8', end, end + clen).split('\0')[0]
      this.buf = this.buf.subarray(end + clen)
    } else {
      this.buf = this.buf.subarray(end)
    }
    return new Packet(command, raw, headers, body)
  }
}
