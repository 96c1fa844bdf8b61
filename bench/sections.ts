/**
 * BENCHMARKS.md is shared by several benchmarks: each owns a section between
 * `<!-- NAME:begin -->` and `<!-- NAME:end -->` and rewrites only that (or appends it).
 */
export function spliceSection (doc: string, name: string, section: string): string {
  const begin = doc.indexOf(`<!-- ${name}:begin`)
  const endMarker = `<!-- ${name}:end -->`
  const end = doc.indexOf(endMarker)
  if (begin >= 0 && end > begin) return doc.slice(0, begin) + section + doc.slice(end + endMarker.length)
  return `${doc.replace(/\s*$/, '')}\n\n${section}\n`
}
