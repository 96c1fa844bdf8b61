import type { CallOutcome } from '../records/types.ts'

/** What a verb can achieve; the runner decides the rest (completed, caller hung up, failed). */
export type Achievement = Extract<CallOutcome, 'message_taken' | 'transferred' | 'voicemail'>

/**
 * Where one call stands, as the verbs change it and the runner reads it at the end: answered,
 * handed off to someone else, and what it achieved for the record. Each change is a method that
 * keeps its rule, so a verb cannot, say, hand a call off without it counting as transferred.
 */
export class CallStatus {
  #answered = false
  #handedOff = false
  #outcome: Achievement | undefined
  #recordings = 0

  /** We had FreeSWITCH answer the call (the channel may also say so on its own). */
  get answered (): boolean { return this.#answered }

  markAnswered (): void {
    this.#answered = true
  }

  /** The call belongs to someone else now: our side must not hang it up. */
  get handedOff (): boolean { return this.#handedOff }

  /**
   * The call went to someone else (a transfer to an extension, a bridge to a leg that answered).
   * One way, and it counts as transferred (provisionally: the runner watches the call and
   * corrects it when the dialplan refuses it).
   */
  handOff (): void {
    this.#handedOff = true
    this.#outcome = 'transferred'
  }

  /**
   * What the call achieved so far, for the record; undefined when nothing yet (the runner then
   * decides from how it ended). A later achievement replaces an earlier one.
   */
  get outcome (): Achievement | undefined { return this.#outcome }

  /** A message was left: a recording kept as one, or the model's take_message. */
  tookMessage (): void {
    this.#outcome = 'message_taken'
  }

  /** A bridge connected and came back to us (files mode): transferred, though not handed off. */
  transferred (): void {
    this.#outcome = 'transferred'
  }

  /** The transfer that connected went to the after-hours voicemail: only a transfer is refined. */
  reachedVoicemail (): void {
    if (this.#outcome === 'transferred') this.#outcome = 'voicemail'
  }

  /** Numbers the call's recordings 1, 2, ... (their file names): a new number each time. */
  nextRecording (): number {
    return ++this.#recordings
  }
}
