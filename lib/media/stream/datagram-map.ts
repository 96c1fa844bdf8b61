/**
 * One datagram Buffer kept for the life of the process. Node makes every Buffer it hands up from
 * C++ (a UDP message, a TCP read) as a Uint8Array and then sets its prototype (node_buffer.cc
 * Buffer::New), so they all share a map V8 reaches only through a weak prototype transition:
 * once a major GC finds no such Buffer alive (every call gone quiet or ended), the map is
 * collected and every optimised function that checked it is thrown away (MediaEndpoint's datagram
 * handler, isPreRtpFrame, frameSamples, Node's stream reads: ~20 functions, re-optimised on the
 * next calls' datagrams; seen with --trace-deopt as "weak objects"). One live Buffer keeps the
 * map, and that code, for good.
 */
let anchor: Buffer | undefined

/** Keeps the first datagram Buffer the process receives (see above); called for every datagram. */
export function keepDatagramMap (msg: Buffer): void {
  if (anchor === undefined) anchor = msg
}
