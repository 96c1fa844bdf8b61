/**
 * The part of a sentence heard before the cut: the share of its audio that was sent, taken on
 * a word boundary (a half word in the history would only confuse the model).
 */
export function cutAt (sentence: string, fraction: number): string {
  if (fraction >= 1) return sentence
  if (fraction <= 0) return ''
  const at = Math.round(sentence.length * fraction)
  const space = sentence.lastIndexOf(' ', at)
  return (space > 0 ? sentence.slice(0, space) : sentence.slice(0, at)).trimEnd()
}
