import { defineScript } from '../call/script.ts'

/**
 * Built-in script: greet, record a message, thank the caller, hang up. Needs no cloud account.
 * Route options (all optional): greeting, thanks, noMessage (texts), maxSeconds.
 */
const TEXTS: Record<string, { greeting: string, thanks: string, noMessage: string }> = {
  en: {
    greeting: 'Hello, thank you for calling. Please leave your name, your number and a message after the tone, then hang up or stay silent.',
    thanks: 'Thank you. Your message has been recorded. Goodbye.',
    noMessage: 'We did not hear a message. Goodbye.',
  },
  it: {
    greeting: 'Buongiorno, grazie per aver chiamato. Lasci il suo nome, il suo numero e un messaggio dopo il segnale acustico, poi riagganci o resti in silenzio.',
    thanks: 'Grazie. Il suo messaggio è stato registrato. Arrivederci.',
    noMessage: 'Non abbiamo sentito nessun messaggio. Arrivederci.',
  },
  de: {
    greeting: 'Guten Tag, danke für Ihren Anruf. Bitte hinterlassen Sie Ihren Namen, Ihre Nummer und eine Nachricht nach dem Signalton, dann legen Sie auf oder bleiben still.',
    thanks: 'Vielen Dank. Ihre Nachricht wurde aufgenommen. Auf Wiederhören.',
    noMessage: 'Wir haben keine Nachricht gehört. Auf Wiederhören.',
  },
}

function textsFor (options: Readonly<Record<string, unknown>>, language: string): { greeting: string, thanks: string, noMessage: string } {
  const texts = TEXTS[language.split('-')[0] ?? 'en'] ?? TEXTS.en!
  const option = (key: string): string | undefined => typeof options[key] === 'string' ? options[key] : undefined
  return {
    greeting: option('greeting') ?? texts.greeting,
    thanks: option('thanks') ?? texts.thanks,
    noMessage: option('noMessage') ?? texts.noMessage,
  }
}

export default defineScript(async (call) => {
  const texts = textsFor(call.options, call.language)
  const maxSeconds = typeof call.options.maxSeconds === 'number' ? call.options.maxSeconds : 120

  await call.answer()
  await call.say(texts.greeting)
  // The greeting promises a tone: record() plays it, and files the recording as a message.
  const message = await call.record({ maxSeconds, silence: { threshold: 200, seconds: 2 } })
  if (message) call.log.info({ path: message.path, durationMs: message.durationMs, hungUp: message.hungUp }, 'message recorded')
  await call.say(message ? texts.thanks : texts.noMessage)
  await call.hangup('NORMAL_CLEARING')
}, {
  phrases: ({ options, language }) => Object.values(textsFor(options, language)),
})
