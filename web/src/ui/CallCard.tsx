import { useState } from 'preact/hooks';
import type { PhoneController } from '../phone/controller.ts';
import type { CallView } from '../phone/model.ts';
import { CallTimer } from './CallTimer.tsx';
import { Avatar, CrmSection } from './CrmCard.tsx';
import { Notes } from './Notes.tsx';
import { Keypad } from './Keypad.tsx';
import { VideoToggle } from './VideoToggle.tsx';

function phaseLabel(call: CallView): string {
  switch (call.phase) {
    case 'ringing-in':
      return call.offersVideo ? 'Incoming video call' : 'Incoming call';
    case 'dialing':
      return 'Calling…';
    case 'ringing-out':
      return 'Ringing…';
    case 'active':
      return call.held ? 'On hold' : 'In call';
  }
}

const RECORD_PATHS: Record<string, string> = { contact: '/contacts/', account: '/accounts/', lead: '/leads/' };

/** Who, how long, and the buttons that make sense for the call's phase. */
export function CallCard({ controller, call }: { controller: PhoneController; call: CallView }) {
  const [keypad, setKeypad] = useState(false);
  const run = controller.execute.bind(controller);
  const chosen = call.crm?.matches.find((m) => m.id === call.crm?.chosen);
  const number = call.crm?.numberDisplay ?? call.remote.number;
  // Several records share the number and none is picked yet: the number, not a guess.
  const undecided = (call.crm?.matches.length ?? 0) > 1 && !chosen;
  const who = chosen?.name ?? call.remote.name ?? call.crm?.callerName ?? call.crm?.colleague ?? (undecided ? null : call.crm?.matches[0]?.name) ?? number;
  const recordPath = call.record ? RECORD_PATHS[call.record.type] : undefined;

  return (
    <section class={`sp-call sp-call-${call.phase}`} aria-label={`Call with ${who}`}>
      <p class="sp-call-phase" aria-live="assertive">
        {phaseLabel(call)}
      </p>
      <div class="sp-who">
        <Avatar name={who} />
        <p class="sp-remote">
          <strong class="sp-remote-name">{who}</strong>
          {who !== number && <span class="sp-remote-number">{number}</span>}
        </p>
        {call.phase === 'active' && call.answeredAt && <CallTimer since={call.answeredAt} />}
      </div>
      <CrmSection controller={controller} call={call} />
      {call.record && recordPath && (
        <p class="sp-record small">
          About <a href={`${recordPath}${encodeURIComponent(call.record.id)}`}>{call.record.name}</a>
        </p>
      )}

      {call.phase === 'ringing-in' && (
        <div class="sp-buttons">
          <button type="button" class="primary sp-answer" onClick={() => run({ type: 'answer' })}>
            Answer
          </button>
          <button type="button" class="danger" onClick={() => run({ type: 'decline' })}>
            Decline
          </button>
          {call.offersVideo && <VideoToggle on={controller.state.videoPreferred} onChange={(on) => run({ type: 'video', on })} />}
        </div>
      )}

      {(call.phase === 'dialing' || call.phase === 'ringing-out') && (
        <div class="sp-buttons">
          <button type="button" class="danger sp-hangup" onClick={() => run({ type: 'hangup' })}>
            Hang up
          </button>
        </div>
      )}

      {call.phase === 'active' && (
        <>
          <div class="sp-buttons sp-controls">
            <button type="button" onClick={() => run({ type: 'mute', on: !call.muted })}>
              {call.muted ? 'Unmute' : 'Mute'}
            </button>
            <button type="button" onClick={() => run({ type: 'hold', on: !call.held })}>
              {call.held ? 'Resume' : 'Hold'}
            </button>
            <button type="button" aria-expanded={keypad} aria-controls="sp-call-keypad" onClick={() => setKeypad(!keypad)}>
              Keypad
            </button>
            <VideoToggle on={call.localVideo} onChange={(on) => run({ type: 'video', on })} />
          </div>
          <div id="sp-call-keypad" hidden={!keypad}>
            {keypad && <Keypad label="Keypad tones" onKey={(tone) => run({ type: 'dtmf', tone })} />}
          </div>
          <div class="sp-buttons">
            <button type="button" class="danger sp-hangup wide" onClick={() => run({ type: 'hangup' })}>
              Hang up
            </button>
          </div>
        </>
      )}
      {call.phase !== 'ringing-in' && call.serverCallId && (!call.crm?.colleague || chosen) && <Notes callId={call.serverCallId} />}
    </section>
  );
}
