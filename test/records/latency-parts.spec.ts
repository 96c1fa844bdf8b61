import t from 'tap'
import { latencyParts, waterfall } from '../../lib/records/show.ts'
import type { LatencyRecord } from '../../lib/records/types.ts'

const full: LatencyRecord = { turn: 1, speechEndAt: 10_000, sttFinalAt: 10_300, llmFirstTokenAt: 10_600, firstSentenceAt: 10_700, ttsAudioAt: 10_900, firstFrameAt: 10_913 }

t.test('processing and media alignment are two separate numbers that add up to the total', async (t) => {
  t.same(latencyParts(full), { processingMs: 900, alignmentMs: 13 })
  const lines = waterfall(full)
  t.match(lines[0], /total 913 ms/)
  t.match(lines.at(-1), /processing 900 ms \(end of speech to audio ready\), media alignment 13 ms \(audio ready to first frame out\)/)
})

t.test('a missing mark leaves its part unknown, and no line', async (t) => {
  const noFrame = { ...full, firstFrameAt: null }
  t.same(latencyParts(noFrame), { processingMs: 900, alignmentMs: null })
  t.notMatch(waterfall(noFrame).join('\n'), /media alignment/)
  t.same(latencyParts({ ...full, speechEndAt: null }), { processingMs: null, alignmentMs: 13 })
})
