import t from 'tap'
import { EarlySentence } from '../../lib/call/conversation/early-sentence.ts'
import type { TurnMedia } from '../../lib/call/turn-media.ts'

/**
 * A round's first sentence is synthesised as soon as the text held back could be a whole
 * sentence, before the next token confirms its end; when the words run on, that synthesis is
 * stopped and its characters counted.
 */
function rig (options: { prepareAhead?: boolean, signal?: AbortSignal } = {}): { early: EarlySentence, asked: Array<{ text: string, signal: AbortSignal }> } {
  const asked: Array<{ text: string, signal: AbortSignal }> = []
  const media = (options.prepareAhead === false
    ? {}
    : { prepareAhead: (text: string, _o: unknown, signal: AbortSignal) => { asked.push({ text, signal }) } }) as unknown as TurnMedia
  const early = new EarlySentence({ media, language: 'it-IT', voice: undefined, sentenceMaxChars: 150, signal: options.signal ?? new AbortController().signal })
  return { early, asked }
}

t.test('a held sentence that ends with a terminator starts at once and is used when confirmed', async (t) => {
  const { early, asked } = rig()
  early.offer('Certo.')
  t.same(asked.map((a) => a.text), ['Certo.'], 'synthesis asked before the next token')
  early.offer('Certo. Per')
  t.equal(asked.length, 1, 'asked once')
  t.equal(early.settle('Certo.'), true, 'the emitted sentence is the one under way')
  t.equal(asked[0]!.signal.aborted, false, 'not stopped')
  t.equal(early.wasted, 0)
})

t.test('words that run on stop the early synthesis and count it', async (t) => {
  const { early, asked } = rig()
  early.offer('Costa 3.')
  t.same(asked.map((a) => a.text), ['Costa 3.'])
  t.equal(early.settle('Costa 3.5 euro.'), false, 'a different sentence')
  t.equal(asked[0]!.signal.aborted, true, 'the early synthesis is stopped')
  t.equal(early.wasted, 'Costa 3.'.length, 'its characters are billed')
})

t.test('a round that ends without the sentence stops it too', async (t) => {
  const { early, asked } = rig()
  early.offer('Va bene!')
  t.equal(early.settle(undefined), false)
  t.equal(asked[0]!.signal.aborted, true)
  t.equal(early.wasted, 'Va bene!'.length)
  t.equal(early.settle('Va bene!'), false, 'settled once')
})

t.test('nothing starts where the end is not a sentence end', async (t) => {
  for (const held of ['Vorrei sapere', 'Le passo il Dott.', 'Cioè', 'Allora,']) {
    const { early, asked } = rig()
    early.offer(held)
    t.same(asked, [], held)
    t.equal(early.settle(held), false, `${held}: nothing was under way`)
    t.equal(early.wasted, 0)
  }
})

t.test('closing quotes belong to the sentence', async (t) => {
  const { early, asked } = rig()
  early.offer('Ha detto «sì».')
  t.same(asked.map((a) => a.text), ['Ha detto «sì».'])
})

t.test('no media that synthesises ahead, or a turn already over: nothing starts', async (t) => {
  const none = rig({ prepareAhead: false })
  none.early.offer('Certo.')
  t.equal(none.early.started, undefined)
  const over = new AbortController()
  over.abort()
  const aborted = rig({ signal: over.signal })
  aborted.early.offer('Certo.')
  t.same(aborted.asked, [])
})

t.test('after the first sentence, later ones are left to the splitter', async (t) => {
  const { early, asked } = rig()
  t.equal(early.settle('Buongiorno.'), false)
  early.offer('Come posso aiutarla?')
  t.same(asked, [])
})
