/**
 * CPU cost of the classic VAD's per-frame work, in microseconds of CPU time (user + system,
 * process.cpuUsage) per 20 ms frame: today's classifier against the reference copy of the one
 * before its hot path was made cheaper (test/media-stream/vad-reference.ts), in the same run on
 * the same machine, by kind of audio and for a call-like mix. CPU time, not wall time: the
 * machine may be shared, and another process's load does not count against us (cache and
 * frequency effects still do, so both implementations are measured alternately, best of N).
 *
 *   node --import tsx bench/vad-cost.ts            # prints JSON and rewrites its BENCHMARKS.md section
 */
import { readFile, writeFile } from 'node:fs/promises'
import { loadavg, cpus } from 'node:os'
import { FrameClassifier } from '../lib/media/vad/classify.ts'
import { ReferenceClassifier } from '../test/media-stream/vad-reference.ts'
import { concat, dtmf, frames, pinkishNoise, speechLike, tones, whiteNoise } from '../test/media-stream/signals.ts'
import { spliceSection } from './sections.ts'

const FILE = new URL('../BENCHMARKS.md', import.meta.url)

interface Classifier { classify (samples: Int16Array): { class: string } }

export interface CostRow {
  readonly input: string
  readonly rate: number
  readonly frames: number
  readonly beforeUs: number
  readonly afterUs: number
}

/** The inputs, each a few seconds long, at `rate`. */
function inputs (rate: number): Array<{ name: string, samples: Int16Array }> {
  const lineNoise = (s: number, seed: number): Int16Array => whiteNoise(rate, s, -62, seed)
  const speech = speechLike(rate, 4, -18, { seed: 11 })
  // A caller talking 37 % of the time over quiet line noise, with a ringback burst: the mix a
  // server sees on its inbound frames.
  const mix = concat([lineNoise(3, 5), speechLike(rate, 2.2, -20, { seed: 12 }), lineNoise(2, 6), tones(rate, 1, [425], -14), speechLike(rate, 1.5, -22, { seed: 13 }), lineNoise(1.3, 7)])
  return [
    { name: 'quiet line (-62 dBFS noise)', samples: lineNoise(4, 3) },
    { name: 'speech', samples: speech },
    { name: 'loud noise (-30 dBFS)', samples: pinkishNoise(rate, 4, -30) },
    { name: 'ringback / DTMF', samples: concat([tones(rate, 2, [440, 480], -14), dtmf(rate, '0123456789', -10)]) },
    { name: 'call mix (37 % speech)', samples: mix },
  ]
}

function cpuUs (): number {
  const u = process.cpuUsage()
  return u.user + u.system
}

/** CPU µs per frame of one pass over `list` with a fresh classifier. */
function pass (make: () => Classifier, list: readonly Int16Array[], repeat: number): number {
  const c = make()
  let sink = 0
  const t0 = cpuUs()
  for (let r = 0; r < repeat; r++) for (const f of list) sink += c.classify(f).class.length
  const used = cpuUs() - t0
  if (sink < 0) throw new Error('unreachable')
  return used / (list.length * repeat)
}

export function runVadCost (options: { rounds?: number, minFrames?: number } = {}): CostRow[] {
  const rounds = options.rounds ?? 5
  const rows: CostRow[] = []
  for (const rate of [8000, 16000]) {
    for (const input of inputs(rate)) {
      const list = frames(input.samples, rate)
      const repeat = Math.max(1, Math.ceil((options.minFrames ?? 20_000) / list.length))
      const before = () => new ReferenceClassifier({ rate })
      const after = () => new FrameClassifier({ rate })
      // Warm both up (JIT), then alternate and keep the best of each.
      pass(before, list, 1)
      pass(after, list, 1)
      let b = Infinity
      let a = Infinity
      for (let i = 0; i < rounds; i++) {
        b = Math.min(b, pass(before, list, repeat))
        a = Math.min(a, pass(after, list, repeat))
      }
      rows.push({ input: input.name, rate, frames: list.length * repeat, beforeUs: b, afterUs: a })
    }
  }
  return rows
}

export function vadCostSection (rows: readonly CostRow[], at = new Date()): string {
  const f = (v: number): string => v.toFixed(2)
  return [
    '<!-- vad-cost:begin -->',
    '## Classic VAD: CPU per frame (`bench/vad-cost.ts`)',
    '',
    `${at.toISOString().slice(0, 10)}, \`node --import tsx bench/vad-cost.ts\`, ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, load average ${loadavg()[0]?.toFixed(1)} (a shared machine: CPU time, not wall time).`,
    'Microseconds of CPU per 20 ms frame for the frame classifier (features + class), best of 5 alternating passes.',
    'Before: the reference copy of the classifier before this change (test/media-stream/vad-reference.ts); after: today\'s.',
    'Both class every frame the same (test/media-stream/vad-identical.spec.ts).',
    '',
    '| input | rate | frames | before µs/frame | after µs/frame | after / before |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.input} | ${r.rate} | ${r.frames} | ${f(r.beforeUs)} | ${f(r.afterUs)} | ${(r.afterUs / r.beforeUs).toFixed(2)} |`),
    '',
    'Where the time went: periodicity (81 lags) ran on every frame above -45 dBFS, and the spectrum too. Now a frame',
    'under the noise floor + snrDb costs its energy alone (steady loud noise is there once the floor has followed it),',
    'a tone or a noise-flat frame skips periodicity, a voiced frame stops the lag search at the first lag that proves',
    'voicing (starting from last frame\'s pitch), each lag costs one product per sample instead of three, and nothing is',
    'allocated per frame. Since the fourth session a frame goes into one of two halves that swap (the 40 ms window is',
    'no longer copied per frame, only put together for periodicity), and the FFT and periodicity scratch is shared by',
    'every call\'s classifier (10 -> 2.6 KB per detector). On a speech frame the spectrum (256-point FFT) costs',
    'about 11 µs and the periodicity search about 9 µs (measured apart, loaded machine). Since the seventh session',
    'each lag\'s products go into four running sums (exact: the samples are integers), the full 81-lag search 24.4 -> 19.7 µs',
    'per frame and the classifier on speech 6.4 -> 6.0 µs (best of 15 alternating passes, load average 2; most voiced',
    'frames settle after a lag or two). Since the thirteenth session the spectrum is a real-input FFT (the frame\'s even',
    'and odd samples as one 128-point complex FFT, split with a twiddle per bin: half the butterflies) and the flatness',
    'takes one log per 16 bins (of their product) instead of one per bin: the shares agree with the old to ~1e-11',
    '(vad-identical.spec), and an A/B of the two trees (pinned to CPU 1, two alternating runs each, 2026-12-03 08:10-08:14 UTC)',
    'gave speech 5.65 -> 4.07 µs, ringback / DTMF 3.44 -> 1.95 µs and the call mix 2.51 -> 1.78 µs per frame at 8 kHz.',
    '',
    'Per call: 50 frames a second, so 1 µs per frame is 0.005 % of a core.',
    '<!-- vad-cost:end -->',
  ].join('\n')
}

export async function writeVadCostSection (section: string): Promise<void> {
  let doc = ''
  try { doc = await readFile(FILE, 'utf8') } catch {}
  await writeFile(FILE, spliceSection(doc, 'vad-cost', section))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = runVadCost()
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`)
  if (!process.argv.includes('--no-write')) await writeVadCostSection(vadCostSection(rows))
}
