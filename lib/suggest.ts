/**
 * "Did you mean" for names a user types: config keys, script names, transfer targets, enum
 * values. Pure functions; every message that names an unknown thing goes through here so they
 * all read the same way.
 */

/** Edit distance (insert, delete, substitute, swap two neighbours), case-insensitive. */
export function editDistance (a: string, b: string): number {
  const s = a.toLowerCase()
  const t = b.toLowerCase()
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i, ...Array<number>(t.length).fill(0)])
  for (let j = 1; j <= t.length; j++) d[0]![j] = j
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1)
      d[i]![j] = best
    }
  }
  return d[s.length]![t.length]!
}

/**
 * The candidate closest to `name`, if it is close enough to be a typo: at most a third of the
 * name's length in edits (at least 1, at most 3), or the same word in another letter case.
 */
export function closest (name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const c of candidates) {
    if (c === name) continue
    const distance = editDistance(name, c)
    if (distance < bestDistance) { best = c; bestDistance = distance }
  }
  const limit = Math.min(3, Math.max(1, Math.floor(name.length / 3)))
  return bestDistance <= limit ? best : undefined
}

/** ` (did you mean "x"?)` or the empty string. */
export function didYouMean (name: string, candidates: Iterable<string>): string {
  const match = closest(name, candidates)
  return match === undefined ? '' : ` (did you mean "${match}"?)`
}

/**
 * `unknown transfer target "recepton" (did you mean "reception"?); configured: reception, sales`.
 * `what` names the kind of thing; `where` says how to add one when none is configured.
 */
export function unknownNameMessage (what: string, name: string, valid: readonly string[], where?: string): string {
  const list = valid.length === 0 ? `none configured${where === undefined ? '' : ` (add one under ${where})`}` : `configured: ${valid.join(', ')}`
  return `unknown ${what} "${name}"${didYouMean(name, valid)}; ${list}`
}

/**
 * The message for `call.transfer(name)` with a name that is not under `transfers:`. The name is
 * the script author's (or a caller's digits mapped by the script), so it is shown; a model's
 * tool call never reaches this (tools validate targets first and never echo them back).
 */
export function unknownTransferTargetMessage (name: string, valid: readonly string[]): string {
  return unknownNameMessage('transfer target', printable(name), valid, 'transfers: in the config')
}

/** Control characters and overlong names are not printed as they are. */
function printable (name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\x00-\x1f\x7f]/g, '?')
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean
}
