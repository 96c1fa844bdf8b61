import t from 'tap'
import { completion, overlapKind } from '../../lib/call/conversation/words.ts'

t.test('completion: finished turns end fast, trailing ones wait', async (t) => {
  const table: Array<[string, string, 'complete' | 'trailing']> = [
    ['I would like an appointment.', 'en-US', 'complete'],
    ['Yes', 'en-US', 'complete'],
    ['I would like an appointment and', 'en-US', 'trailing'],
    ['My number is 333 12', 'en-US', 'trailing'],
    ['Well, um', 'en-US', 'trailing'],
    ['I was thinking...', 'en-US', 'trailing'],
    ['Vorrei un appuntamento.', 'it-IT', 'complete'],
    ['Sì', 'it-IT', 'complete'],
    ['Vorrei sapere perché', 'it-IT', 'trailing'],
    ['Il numero è 0212345', 'it-IT', 'trailing'],
    ['Chiamo per il', 'it-IT', 'trailing'],
    ['Vorrei sapere e.', 'it-IT', 'trailing'],
    ['Ich möchte einen Termin.', 'de-DE', 'complete'],
    ['Ich rufe an, weil', 'de-DE', 'trailing'],
    ['Also', 'de-DE', 'trailing'],
    ['Ja', 'de-CH', 'complete'],
    ['', 'en-US', 'trailing'],
    ['Bonjour et', 'fr-FR', 'complete'],
  ]
  for (const [text, lang, want] of table) t.equal(completion(text, lang), want, `${lang}: ${JSON.stringify(text)}`)
})

t.test('overlap: backchannels never interrupt, some words always do', async (t) => {
  const table: Array<[string, string, 'backchannel' | 'interrupt' | 'other']> = [
    ['Mhm.', 'en-US', 'backchannel'],
    ['Uh-huh', 'en-US', 'backchannel'],
    ['yeah yeah', 'en-US', 'backchannel'],
    ['Stop!', 'en-US', 'interrupt'],
    ['No, that is wrong', 'en-US', 'interrupt'],
    ['What are your opening hours?', 'en-US', 'other'],
    ['Sì.', 'it-IT', 'backchannel'],
    ['sì sì', 'it-IT', 'backchannel'],
    ['Va bene', 'it-IT', 'backchannel'],
    ['Aspetta', 'it-IT', 'interrupt'],
    ['Un attimo, per favore', 'it-IT', 'interrupt'],
    ['Quanto costa?', 'it-IT', 'other'],
    ['Ja.', 'de-DE', 'backchannel'],
    ['Genau', 'de-AT', 'backchannel'],
    ['Warte mal', 'de-DE', 'interrupt'],
    ['Nein', 'de-DE', 'interrupt'],
    ['Wann haben Sie offen?', 'de-DE', 'other'],
    ['', 'it-IT', 'backchannel'],
  ]
  for (const [text, lang, want] of table) t.equal(overlapKind(text, lang), want, `${lang}: ${JSON.stringify(text)}`)
})
