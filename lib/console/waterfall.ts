import type { LatencyRecord } from '../records/types.ts'
import { LATENCY_STAGES } from '../records/show.ts'
import { Html, html } from './html.ts'

const COLORS = ['#7aa5e6', '#e6a23c', '#9b7ae6', '#4fb286', '#d9534f']
const ROW = 22
const LEFT = 70
const WIDTH = 720

/**
 * Each reply's latency as a stacked bar from the end of the caller's speech: one segment per
 * stage (STT final, LLM first token, first sentence, TTS audio, first frame), each measured
 * from the mark before it, so the longest segment is the stage to look at. Inline SVG: no
 * script, no chart library; the numbers are also in each segment's <title>.
 */
export function waterfall (latency: readonly LatencyRecord[]): Html {
  const rows = latency.flatMap((l) => {
    if (l.speechEndAt === null) return []
    let prev = l.speechEndAt
    const segments: Array<{ label: string, from: number, ms: number, color: string }> = []
    LATENCY_STAGES.forEach(([label, key], i) => {
      const at = l[key] as number | null
      if (at === null) return
      segments.push({ label, from: prev - (l.speechEndAt ?? 0), ms: Math.max(0, at - prev), color: COLORS[i % COLORS.length] ?? '#999' })
      prev = at
    })
    return [{ turn: l.turn, total: prev - l.speechEndAt, segments }]
  })
  if (rows.length === 0) return html`<p class="muted">No latency measured for this call.</p>`
  const max = Math.max(1, ...rows.map((r) => r.total))
  const scale = (WIDTH - LEFT - 70) / max
  const height = rows.length * ROW + 30
  const legend = LATENCY_STAGES.map(([label], i) => html`<rect x="${LEFT + i * 120}" y="${height - 14}" width="10" height="10" fill="${COLORS[i]}"/><text x="${LEFT + i * 120 + 14}" y="${height - 5}" font-size="11">${label}</text>`)
  const bars = rows.map((r, i) => {
    const y = i * ROW + 4
    return html`<g class="turn-latency"><text x="0" y="${y + 13}" font-size="12">turn ${r.turn}</text>${r.segments.map((s) =>
      html`<rect x="${(LEFT + s.from * scale).toFixed(1)}" y="${y}" width="${Math.max(1, s.ms * scale).toFixed(1)}" height="16" fill="${s.color}"><title>${s.label}: ${Math.round(s.ms)} ms</title></rect>`)}<text x="${(LEFT + r.total * scale + 6).toFixed(1)}" y="${y + 13}" font-size="12">${Math.round(r.total)} ms</text></g>`
  })
  return html`<svg role="img" aria-label="Per-turn latency waterfall" xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">${bars}${legend}</svg>`
}
