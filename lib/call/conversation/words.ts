/**
 * What a few words say about the turn, per language (the primary subtag: en, it, de; others fall
 * back to English): whether an utterance is finished or trails off (endpointing), and whether
 * speech over the agent is a backchannel ("mhm", "sì", "ja": the agent goes on), a word that
 * always interrupts ("stop", "aspetta", "warte", "no"), or anything else. Pure functions, tested
 * with tables.
 */

const TRAILING: Record<string, readonly string[]> = {
  en: ['and', 'but', 'so', 'because', 'or', 'the', 'a', 'an', 'to', 'of', 'with', 'for', 'my', 'your', 'that', 'if', 'then', 'um', 'uh', 'er', 'erm', 'like', 'is', 'at', 'in', 'on'],
  it: ['e', 'ed', 'ma', 'perché', 'perche', 'quindi', 'oppure', 'o', 'il', 'lo', 'la', 'i', 'gli', 'le', 'un', 'una', 'di', 'del', 'della', 'che', 'se', 'poi', 'ehm', 'ehm', 'cioè', 'allora', 'per', 'con', 'a', 'da', 'in', 'mio', 'mia', 'sono', 'è'],
  de: ['und', 'aber', 'also', 'weil', 'oder', 'der', 'die', 'das', 'den', 'dem', 'ein', 'eine', 'einen', 'zu', 'mit', 'für', 'von', 'wenn', 'dass', 'dann', 'äh', 'ähm', 'mein', 'meine', 'ist', 'bin', 'an', 'in', 'auf', 'bei'],
}

const BACKCHANNELS: Record<string, readonly string[]> = {
  en: ['mhm', 'mm', 'mmm', 'hm', 'hmm', 'uh huh', 'uh-huh', 'yeah', 'yes', 'yep', 'ok', 'okay', 'right', 'sure', 'i see', 'got it', 'alright', 'cool'],
  it: ['sì', 'si', 'mhm', 'mm', 'ok', 'okay', 'va bene', 'certo', 'giusto', 'ah ecco', 'ecco', 'capito', 'esatto', 'già', 'ho capito', 'perfetto'],
  de: ['ja', 'jaja', 'mhm', 'mm', 'hm', 'ok', 'okay', 'genau', 'gut', 'alles klar', 'verstehe', 'richtig', 'klar', 'stimmt', 'aha'],
}

const INTERRUPTS: Record<string, readonly string[]> = {
  en: ['stop', 'wait', 'no', 'hold on', 'hang on', 'excuse me', 'sorry', 'listen', 'actually'],
  it: ['stop', 'aspetta', 'aspetti', 'no', 'scusi', 'scusa', 'un attimo', 'un momento', 'basta', 'senta', 'ascolti'],
  de: ['stopp', 'stop', 'warte', 'warten sie', 'nein', 'moment', 'halt', 'entschuldigung', 'hören sie'],
}

function base (language: string): string {
  const b = language.split('-')[0]?.toLowerCase() ?? 'en'
  return Object.hasOwn(TRAILING, b) ? b : 'en'
}

/** Lower case, punctuation off, spaces folded: how the lists above are written. */
export function normalise (text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}' -]+/gu, ' ').replace(/\s+/g, ' ').trim()
}

export type Completion = 'complete' | 'trailing'

/**
 * Whether the words so far are a finished turn or the caller is mid-thought: a trailing
 * conjunction, article or filler ("and…", "perché…", "also…"), a comma or ellipsis at the end,
 * or a number being dictated (the turn ends in digits, or in a run of number words) all mean
 * the caller is likely to go on.
 */
export function completion (text: string, language: string): Completion {
  const trimmed = text.trim()
  if (trimmed === '') return 'trailing'
  if (/(,|…|\.\.\.|-|:)$/.test(trimmed)) return 'trailing'
  if (/[.!?]$/.test(trimmed) && !/\d[.]$/.test(trimmed)) {
    // A full stop the recogniser added after a trailing word still trails ("Vorrei sapere e.").
    const words = normalise(trimmed).split(' ')
    return TRAILING[base(language)]?.includes(words.at(-1) ?? '') === true ? 'trailing' : 'complete'
  }
  const words = normalise(trimmed).split(' ')
  const last = words.at(-1) ?? ''
  if (/\d$/.test(trimmed)) return 'trailing'
  if (TRAILING[base(language)]?.includes(last) === true) return 'trailing'
  return 'complete'
}

export type Overlap = 'backchannel' | 'interrupt' | 'other'

/**
 * Speech over the agent: a backchannel (the agent goes on where it paused), an interrupting
 * word (the agent stops at once), or anything else (a barge-in: the agent stops and listens).
 */
export function overlapKind (text: string, language: string): Overlap {
  const said = normalise(text)
  if (said === '') return 'backchannel'
  const lang = base(language)
  const first = said.split(' ')
  for (const w of INTERRUPTS[lang] ?? []) {
    if (said === w || said.startsWith(`${w} `)) return 'interrupt'
  }
  // Repeated backchannels count too ("sì sì", "ja ja ja", "mhm mhm").
  const bc = BACKCHANNELS[lang] ?? []
  if (bc.includes(said)) return 'backchannel'
  if (first.length <= 3 && first.every((w) => bc.includes(w))) return 'backchannel'
  return 'other'
}
