import { useEffect, useState } from 'preact/hooks';
import type { PhoneController } from '../phone/controller.ts';
import { isDeviceKey } from '../phone/devices.ts';
import { MICROPHONE_BLOCKED } from '../phone/messages.ts';
import { CallCard } from './CallCard.tsx';
import { Dialer } from './Dialer.tsx';
import { MediaView } from './MediaView.tsx';
import { NoticeLine } from './NoticeLine.tsx';
import { Settings } from './Settings.tsx';
import { StatusLine } from './StatusLine.tsx';
import { RecentCalls } from './RecentCalls.tsx';
import { usePhone } from './use-phone.ts';
import { WrapUpCard } from './WrapUp.tsx';

/** The softphone panel: status, the call or the dialer, media (leader tab), settings. */
export function SoftphonePanel({ controller }: { controller: PhoneController }) {
  usePhone(controller);
  const [speakerVersion, setSpeakerVersion] = useState(0);
  const { state, role } = controller;
  const { call } = state;

  // A speaker picked in another tab: the leader re-routes its audio.
  useEffect(() => {
    const onStorage = (e: StorageEvent) => {
      if (isDeviceKey(e.key)) setSpeakerVersion((v) => v + 1);
    };
    window.addEventListener('storage', onStorage);
    return () => window.removeEventListener('storage', onStorage);
  }, []);

  return (
    <div class="sp" data-role={role}>
      <header class="sp-header">
        <h2 class="sp-title">Phone</h2>
        <StatusLine registration={state.registration} />
      </header>
      {state.user && (
        <p class="sp-identity small muted">
          {state.user.name}
          {state.user.extension && <> · ext. {state.user.extension}</>}
        </p>
      )}
      {state.microphone === 'denied' && state.notice?.text !== MICROPHONE_BLOCKED && (
        <p class="sp-warning small" role="note">
          {MICROPHONE_BLOCKED}
        </p>
      )}
      <NoticeLine notice={state.notice} onDismiss={() => controller.execute({ type: 'dismiss-notice' })} />
      {!call && state.wrapUp && <WrapUpCard controller={controller} wrapUp={state.wrapUp} key={state.wrapUp.callId} />}
      {call ? <CallCard controller={controller} call={call} /> : <Dialer controller={controller} />}
      {role === 'leader' && call && (
        <MediaView media={controller.media} remoteVideo={call.remoteVideo && call.phase === 'active'} localVideo={call.localVideo} speakerVersion={speakerVersion} />
      )}
      {role === 'follower' && <p class="sp-follower small muted">This tab uses the phone of another Ringside tab: calls play there.</p>}
      {!call && state.user && <RecentCalls controller={controller} />}
      <Settings controller={controller} onSpeakerChange={() => setSpeakerVersion((v) => v + 1)} />
    </div>
  );
}
