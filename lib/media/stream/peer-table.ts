/**
 * The shared media socket's calls by where FreeSWITCH sends them from (udp-mux.ts), looked up
 * once per datagram: by source port first, then by address.
 *
 * Why not one Map keyed `address * 65536 + port`: that key is above 2^31, a heap number to V8,
 * and `Map.get` with it runs the generic lookup, hashing the double each time (perf at 500
 * calls: `FindOrderedHashMapEntry` under the receive loop, about 1 % of the event loop). A port
 * is a small integer, which V8's optimised code hashes inline. One FreeSWITCH address is the
 * rule, so a port's chain is one entry; two switches sending from the same port make it two.
 */
export class PeerTable<T> {
  readonly #byPort = new Map<number, Entry<T>>()
  #size = 0

  get size (): number { return this.#size }

  /** `address`: the IPv4 address as udp-mux.c's inbox holds it (an int32); `port`: the source port. */
  get (address: number, port: number): T | undefined {
    let entry = this.#byPort.get(port)
    while (entry !== undefined) {
      if (entry.address === address) return entry.value
      entry = entry.next
    }
    return undefined
  }

  /** Adds `value` unless the address and port already have one: false then. */
  add (address: number, port: number, value: T): boolean {
    if (this.get(address, port) !== undefined) return false
    this.#byPort.set(port, { address, value, next: this.#byPort.get(port) })
    this.#size++
    return true
  }

  /** Removes the entry for the address and port if it holds `value`. */
  delete (address: number, port: number, value: T): void {
    let previous: Entry<T> | undefined
    let entry = this.#byPort.get(port)
    while (entry !== undefined) {
      if (entry.address === address && entry.value === value) {
        if (previous !== undefined) previous.next = entry.next
        else if (entry.next !== undefined) this.#byPort.set(port, entry.next)
        else this.#byPort.delete(port)
        this.#size--
        return
      }
      previous = entry
      entry = entry.next
    }
  }

  clear (): void {
    this.#byPort.clear()
    this.#size = 0
  }
}

interface Entry<T> {
  readonly address: number
  readonly value: T
  next: Entry<T> | undefined
}
