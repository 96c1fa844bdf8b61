import { defineScript } from '../../../lib/call/script.ts'

/** Three questions: answered, answered after a reprompt, answered with noise (no-match). */
export default defineScript(async (call) => {
  await call.answer()
  const name = await call.ask('Come si chiama?', { noInputMs: 1500, hints: ['Rossi'] })
  call.log.info({ question: 1, result: name }, 'ask result')
  const surname = await call.ask('E il cognome?', { noInputMs: 3000, retries: 1, reprompt: 'Non ho sentito, il cognome?' })
  call.log.info({ question: 2, result: surname }, 'ask result')
  const more = await call.ask('Altro?', { noInputMs: 3000 })
  call.log.info({ question: 3, result: more }, 'ask result')
})
