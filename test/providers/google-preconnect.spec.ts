import * as grpc from '@grpc/grpc-js'
import { SpeechClient } from '@google-cloud/speech'
import { TextToSpeechClient } from '@google-cloud/text-to-speech'
import t from 'tap'
import { googleClientOptions } from '../../lib/providers/google-client.ts'
import { ProviderQueue } from '../../lib/providers/queue.ts'
import { GoogleStt } from '../../lib/speech/stt/google.ts'
import { GoogleTts } from '../../lib/speech/tts/google.ts'
import { FakeGoogleServer } from '../fakes/google-grpc.ts'
import { noDelay } from './helpers.ts'

/**
 * Google's gRPC channel connects on the first call: pre-connecting (when a call starts or a turn
 * begins listening) makes it ready before the reply needs it, without making a call.
 */
t.test('preconnect makes the gRPC channels ready without a call; untouched they stay idle', async (t) => {
  const fake = await FakeGoogleServer.start()
  const clientOpts = googleClientOptions({ apiEndpoint: '127.0.0.1', port: fake.port, insecure: true })
  const speechClient = new SpeechClient(clientOpts)
  const ttsClient = new TextToSpeechClient(clientOpts)
  const idleClient = new SpeechClient(clientOpts)
  t.teardown(async () => {
    await speechClient.close()
    await ttsClient.close()
    await idleClient.close()
    await fake.close()
  })
  const common = { name: 'google', queue: new ProviderQueue('google', 2), retry: noDelay, timeoutMs: 5000 }
  const stt = new GoogleStt({ ...common, client: speechClient, model: 'phone_call', useEnhanced: true, punctuation: true, language: 'it-IT', hints: [] })
  const tts = new GoogleTts({ ...common, client: ttsClient, language: 'de-DE' })
  stt.preconnect()
  tts.preconnect()
  const state = async (client: { initialize: () => Promise<unknown> }): Promise<grpc.connectivityState> =>
    ((await client.initialize()) as unknown as grpc.Client).getChannel().getConnectivityState(false)
  while (await state(speechClient) !== grpc.connectivityState.READY || await state(ttsClient) !== grpc.connectivityState.READY) {
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  t.pass('both channels connected')
  t.equal(fake.metadata.length, 0, 'no call was made')
  t.equal(await state(idleClient), grpc.connectivityState.IDLE, 'a client nobody pre-connected has not connected')
})

t.test('preconnect on a closed client or an unreachable server does not throw', async (t) => {
  const fake = await FakeGoogleServer.start()
  const port = fake.port
  await fake.close()
  const client = new SpeechClient(googleClientOptions({ apiEndpoint: '127.0.0.1', port, insecure: true }))
  const stt = new GoogleStt({ name: 'google', queue: new ProviderQueue('google', 1), retry: noDelay, timeoutMs: 1000, client, model: 'phone_call', useEnhanced: true, punctuation: true, language: 'it-IT', hints: [] })
  stt.preconnect()
  await client.close()
  stt.preconnect()
  t.pass('no throw')
})
