import { TRUE_WORDS, type Session } from './session.ts'

/**
 * switch_ivr_uuid_bridge() took this channel out of park (CS_HIBERNATE, then CS_SOFT_EXECUTE:
 * uuid_bridge_on_soft_execute -> switch_ivr_multi_threaded_bridge). The bridge lasts until
 * either side hangs up. Afterwards (switch_ivr_multi_threaded_bridge's end) an answered peer
 * with hangup_after_bridge=true hangs this channel up with the peer's cause; otherwise the
 * channel goes back to CS_EXECUTE and its dialplan continues after `socket`, which here has
 * nothing more: the extension ends and the call with it.
 */
export async function runUuidBridge (s: Session, bridge: NonNullable<Session['uuidBridge']>): Promise<void> {
  const vars = s.channel.variables
  bridge.leg.bridged()
  vars.set('bridge_uuid', bridge.otherUuid)
  vars.set('last_bridge_to', bridge.otherUuid)
  s.fire('CHANNEL_BRIDGE', [['Bridge-A-Unique-ID', s.channel.uuid], ['Bridge-B-Unique-ID', bridge.otherUuid],
    ['Other-Leg-Unique-ID', bridge.otherUuid]])
  const peerCause = await Promise.race([bridge.leg.down, s.down.then(() => undefined), s.resetBySocket])
  if (peerCause === 'reset') {
    // Our socket closed with resume on: CS_RESET breaks the bridge, the peer is hung up and
    // the dialplan continues after `socket` (here: nothing, so the call ends).
    bridge.leg.hangup('NORMAL_CLEARING')
    s.fire('CHANNEL_UNBRIDGE', [['Bridge-A-Unique-ID', s.channel.uuid], ['Bridge-B-Unique-ID', bridge.otherUuid]])
    s.uuidBridge = undefined
    s.hangup('NORMAL_CLEARING', 'socket-closed')
    return
  }
  if (peerCause === undefined) {
    // The caller hung up first: the bridge hangs the peer up (switch_ivr_bridge.c audio_bridge_thread).
    bridge.leg.hangup(s.channel.hangupCause ?? 'NORMAL_CLEARING')
    vars.set('last_bridge_hangup_cause', s.channel.hangupCause ?? 'NORMAL_CLEARING')
  } else {
    vars.set('last_bridge_hangup_cause', peerCause)
    vars.set('bridge_hangup_cause', peerCause)
  }
  s.fire('CHANNEL_UNBRIDGE', [['Bridge-A-Unique-ID', s.channel.uuid], ['Bridge-B-Unique-ID', bridge.otherUuid]])
  s.uuidBridge = undefined
  if (peerCause !== undefined && !s.channel.hungUp && TRUE_WORDS.has((vars.get('hangup_after_bridge') ?? '').toLowerCase())) {
    s.hangup(peerCause, 'caller')
  }
}
