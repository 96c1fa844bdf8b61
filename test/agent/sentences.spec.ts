import t from 'tap'
import { SentenceSplitter, speakable, type SentenceSplitterOptions } from '../../lib/agent/sentences.ts'

interface Run { streamed: string[], flushed: string[], all: string[] }

function run (deltas: readonly string[], options: SentenceSplitterOptions = {}): Run {
  const s = new SentenceSplitter(options)
  const streamed: string[] = []
  for (const d of deltas) streamed.push(...s.push(d))
  const flushed = s.flush()
  return { streamed, flushed, all: [...streamed, ...flushed] }
}

/** Deterministic pseudo-random chunking so a failure can be reproduced. */
function chunks (text: string, seed: number): string[] {
  const out: string[] = []
  let x = seed
  let i = 0
  while (i < text.length) {
    x = (x * 1103515245 + 12345) % 2147483648
    const n = 1 + (x % 7)
    out.push(text.slice(i, i + n))
    i += n
  }
  return out
}

type Row = [name: string, text: string, expected: string[], language?: string]

const table: Row[] = [
  ['two sentences', 'Hello Pipecat! How are you?', ['Hello Pipecat!', 'How are you?']],
  ['price with decimals', 'Ask me for only $29.95/month. Deal?', ['Ask me for only $29.95/month.', 'Deal?']],
  ['decimal number', 'The rate is 3.5 percent. Fine.', ['The rate is 3.5 percent.', 'Fine.']],
  ['european amount', 'Il totale è 1.000,50 €. Grazie.', ['Il totale è 1.000,50 €.', 'Grazie.'], 'it-IT'],
  ['Mr. title', 'Hello Mr. Smith. Welcome back.', ['Hello Mr. Smith.', 'Welcome back.']],
  ['Dott. title', 'Le passo il Dott. Rossi. Attenda.', ['Le passo il Dott. Rossi.', 'Attenda.'], 'it-IT'],
  ['Sig.ra title', 'Buongiorno Sig.ra Bianchi. Come posso aiutarla?', ['Buongiorno Sig.ra Bianchi.', 'Come posso aiutarla?'], 'it-IT'],
  ['Sig. title', 'Il Sig. Verdi è in riunione. Richiami domani.', ['Il Sig. Verdi è in riunione.', 'Richiami domani.'], 'it-IT'],
  ['z.B. mid-sentence', 'Wir haben z.B. Äpfel und Birnen. Sonst nichts.', ['Wir haben z.B. Äpfel und Birnen.', 'Sonst nichts.'], 'de-DE'],
  ['u.a. mid-sentence', 'Wir liefern u.a. Berlin und Hamburg. Danke.', ['Wir liefern u.a. Berlin und Hamburg.', 'Danke.'], 'de-DE'],
  ['German ordinal date', 'Wir haben am 3. Oktober geschlossen. Danke.', ['Wir haben am 3. Oktober geschlossen.', 'Danke.'], 'de-DE'],
  ['e.g. before a capital', 'Cities, e.g. Rome or Milan, are covered. Yes.', ['Cities, e.g. Rome or Milan, are covered.', 'Yes.']],
  ['i.e. before a capital', 'Call us at noon, i.e. The lunch hour. Ok.', ['Call us at noon, i.e. The lunch hour.', 'Ok.']],
  ['etc. mid-sentence', 'We sell apples, pears etc. and more. Thanks.', ['We sell apples, pears etc. and more.', 'Thanks.']],
  ['etc. at the end', 'We sell apples, pears etc. Anything else?', ['We sell apples, pears etc.', 'Anything else?']],
  ['ecc. at the end', 'Vendiamo mele, pere ecc. Altro?', ['Vendiamo mele, pere ecc.', 'Altro?'], 'it-IT'],
  ['ellipsis then capital', 'Well... I think so. Sure.', ['Well...', 'I think so.', 'Sure.']],
  ['ellipsis mid-sentence', 'Wait… what happened? Tell me.', ['Wait… what happened?', 'Tell me.']],
  ['unicode ellipsis then capital', 'Hmm… Yes, that works.', ['Hmm…', 'Yes, that works.']],
  ['interrobang', 'Really?! That is great.', ['Really?!', 'That is great.']],
  ['quote after stop', 'He said "Hello." Then he left.', ['He said "Hello."', 'Then he left.']],
  ['guillemets after stop', 'Ha detto «Arrivo subito.» Poi è uscito.', ['Ha detto «Arrivo subito.»', 'Poi è uscito.'], 'it-IT'],
  ['bracket after stop', 'Open daily (except Sunday.) Call us.', ['Open daily (except Sunday.)', 'Call us.']],
  ['question in quotes continues', '"Are you there?" she asked. Yes.', ['"Are you there?" she asked.', 'Yes.']],
  ['numbered list on lines', 'Steps:\n1. Open the app.\n2. Tap Save.\n', ['Steps:', '1. Open the app.', '2. Tap Save.']],
  ['numbered list without final stops', 'Options\n1. Pizza\n2. Pasta', ['Options', '1. Pizza', '2. Pasta']],
  ['newline is a boundary', 'First line\nSecond line', ['First line', 'Second line']],
  ['blank lines are not sentences', 'One.\n\n\nTwo.', ['One.', 'Two.']],
  ['number at end of sentence', 'The total is 25. Thank you.', ['The total is 25.', 'Thank you.']],
  ['initials', 'Books by J. R. Tolkien are here. Ok.', ['Books by J. R. Tolkien are here.', 'Ok.']],
  ['English no. is a word', 'I said no. Then I left.', ['I said no.', 'Then I left.']],
  ['Italian n. is a number sign', 'Pratica n. 42 aperta. Grazie.', ['Pratica n. 42 aperta.', 'Grazie.'], 'it-IT'],
  ['email and URL', 'Write to info@example.com today. Or visit example.org now.', ['Write to info@example.com today.', 'Or visit example.org now.']],
  ['time', 'We open at 9.30 tomorrow. Bye.', ['We open at 9.30 tomorrow.', 'Bye.']],
  ['Japanese', 'こんにちは。元気ですか？', ['こんにちは。', '元気ですか？']],
  ['no punctuation at all', 'hello there', ['hello there']],
  ['only whitespace', '   \n  ', []],
  ['markdown bold and bullets', '**Note:** we are open.\n- Monday\n- Tuesday', ['Note: we are open.', 'Monday', 'Tuesday']],
  ['markdown heading and link', '# Hours\nSee [our site](https://example.com/hours) please.', ['Hours', 'See our site please.']],
  ['emoji stripped', 'Great news 🎉! Your order shipped 👍🏽.', ['Great news!', 'Your order shipped.']],
  ['emoji-only line is not a sentence', 'Done.\n😀\nBye.', ['Done.', 'Bye.']],
]

t.test('sentence table', async (t) => {
  for (const [name, text, expected, language] of table) {
    const options = { language }
    t.strictSame(run([text], options).all, expected, `${name}: whole text`)
    t.strictSame(run([...text], options).all, expected, `${name}: one character per delta`)
    for (const seed of [1, 7, 42]) {
      t.strictSame(run(chunks(text, seed), options).all, expected, `${name}: chunked (seed ${seed})`)
    }
  }
})

t.test('sentences are released as soon as the next word proves the boundary', async (t) => {
  const s = new SentenceSplitter()
  t.strictSame(s.push('Hello world.'), [], 'a final period waits: it may be 3. then 5')
  t.strictSame(s.push(' '), [], 'a space is not enough: Mr. is followed by a name')
  t.strictSame(s.push('N'), ['Hello world.'], 'a capital letter confirms it')
  t.strictSame(s.push('ext one'), [])
  t.equal(s.pending, 'Next one')
  t.strictSame(s.flush(), ['Next one'])
  t.strictSame(s.flush(), [], 'flush twice gives nothing')
  t.equal(s.pending, '')
})

t.test('a decimal split across deltas is not a boundary', async (t) => {
  const s = new SentenceSplitter()
  t.strictSame(s.push('It costs 3.'), [])
  t.strictSame(s.push('5 euros. '), [])
  t.strictSame(s.push('Ok'), ['It costs 3.5 euros.'])
  t.strictSame(s.flush(), ['Ok'])
})

t.test('question and exclamation marks release on the next word', async (t) => {
  const s = new SentenceSplitter()
  t.strictSame(s.push('Can I help? '), [])
  t.strictSame(s.push('Tell'), ['Can I help?'])
})

t.test('a newline releases at once', async (t) => {
  const s = new SentenceSplitter()
  t.strictSame(s.push('Line one\n'), ['Line one'])
})

t.test('long sentences are cut at a clause boundary so TTS starts early', async (t) => {
  const clause = 'and then we checked the second warehouse in the north of the city'
  const text = `We looked everywhere, ${clause}, ${clause}, ${clause}, and finally found it.`
  const { all } = run([text], { maxChars: 80 })
  t.ok(all.length >= 3, `cut into ${all.length} pieces`)
  for (const piece of all.slice(0, -1)) t.ok(piece.length <= 160, `piece of ${piece.length} chars`)
  t.equal(all.join(' '), text, 'nothing lost, nothing reordered')
  t.ok(all.slice(0, -1).every((p) => p.endsWith(',')), 'cuts fall after commas')
  t.strictSame(run(chunks(text, 3), { maxChars: 80 }).all, all, 'same cuts whatever the chunking')
  t.strictSame(run([...text], { maxChars: 80 }).all, all, 'same cuts one character at a time')
})

t.test('a short sentence is never cut at its commas', async (t) => {
  t.strictSame(run(['Yes, sure, of course. Bye.']).all, ['Yes, sure, of course.', 'Bye.'])
})

t.test('a comma inside a number is not a clause boundary', async (t) => {
  const text = 'Il saldo del conto corrente intestato alla società è pari a 1.000,50 euro e la prossima rata scade a fine mese'
  const { all } = run([text], { maxChars: 40, language: 'it' })
  t.ok(all.every((p) => !p.endsWith('1.000,')), 'never cut inside 1.000,50')
  t.equal(all.join(' '), text)
})

t.test('text without any punctuation is cut at a space past the hard limit', async (t) => {
  const words = Array.from({ length: 120 }, (_, i) => `word${i}`)
  const text = words.join(' ')
  const s = new SentenceSplitter({ maxChars: 50, hardMaxChars: 100 })
  const streamed: string[] = []
  for (const w of words) streamed.push(...s.push(w + ' '))
  t.ok(streamed.length >= 5, 'pieces are released while streaming, not only at flush')
  const all = [...streamed, ...s.flush()]
  for (const p of all) t.ok(p.length <= 100, `piece of ${p.length} chars`)
  t.equal(all.join(' '), text, 'no word is split or lost')
})

t.test('never loses text and never emits an empty sentence (raw mode)', async (t) => {
  const corpus = table.map((r) => r[1]).join(' ') + ' ' + 'x, '.repeat(200) + '...'
  for (const seed of [2, 3, 5, 11, 13]) {
    const { all } = run(chunks(corpus, seed), { stripMarkup: false, maxChars: 60 })
    t.ok(all.every((p) => p.trim().length > 0 && p === p.trim()), `seed ${seed}: no empty or untrimmed sentence`)
    // Japanese has no spaces between sentences, so compare with all whitespace removed.
    t.equal(all.join('').replace(/\s+/gu, ''), corpus.replace(/\s+/gu, ''), `seed ${seed}: every character kept in order`)
  }
})

t.test('reset drops held-back text', async (t) => {
  const s = new SentenceSplitter()
  s.push('This will never be sp')
  s.reset()
  t.equal(s.pending, '')
  t.strictSame(s.flush(), [])
  t.strictSame(s.push('New. Text'), ['New.'])
})

t.test('stripMarkup false keeps the text as written', async (t) => {
  t.strictSame(run(['**Bold** 🎉. Next'], { stripMarkup: false }).all, ['**Bold** 🎉.', 'Next'])
})

t.test('speakable', async (t) => {
  t.equal(speakable('  __Hello__   *there*  '), 'Hello there')
  t.equal(speakable('snake_case stays'), 'snake_case stays')
  t.equal(speakable('`code`'), 'code')
  t.equal(speakable('> quoted'), 'quoted')
  t.equal(speakable('![logo](x.png) ACME'), 'logo ACME')
  t.equal(speakable('---'), '', 'nothing to say')
  t.equal(speakable('🎉🎉'), '')
  t.equal(speakable('1️⃣ first'), '1 first', 'keycap emoji keeps its digit')
})
