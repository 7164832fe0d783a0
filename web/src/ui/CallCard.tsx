import { useState } from 'preact/hooks';
import type { PhoneController } from '../phone/controller.ts';
import type { CallView, CrmCard } from '../phone/model.ts';
import { CallTimer } from './CallTimer.tsx';
import { Keypad } from './Keypad.tsx';
import { VideoToggle } from './VideoToggle.tsx';

/** The screen pop: the colleague, or the CRM records matching the number (best first). */
function CrmMatches({ card }: { card: CrmCard }) {
  if (card.colleague) return <p class="sp-crm small muted">Colleague</p>;
  if (card.matches.length === 0) return <p class="sp-crm small muted">Not in the CRM</p>;
  return (
    <ul class="sp-crm" aria-label="CRM records for this number">
      {card.matches.map((m) => (
        <li key={m.id}>
          <a href={m.url}>{m.name}</a>
          {(m.title || m.account) && <span class="small muted"> · {[m.title, m.account].filter(Boolean).join(', ')}</span>}
        </li>
      ))}
    </ul>
  );
}

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
  const who = call.remote.name ?? call.crm?.callerName ?? call.crm?.colleague ?? call.crm?.matches[0]?.name ?? call.remote.number;
  const recordPath = call.record ? RECORD_PATHS[call.record.type] : undefined;

  return (
    <section class={`sp-call sp-call-${call.phase}`} aria-label={`Call with ${who}`}>
      <p class="sp-call-phase" aria-live="assertive">
        {phaseLabel(call)}
      </p>
      <p class="sp-remote">
        <strong class="sp-remote-name">{who}</strong>
        {who !== call.remote.number && <span class="sp-remote-number">{call.remote.number}</span>}
      </p>
      {call.crm && <CrmMatches card={call.crm} />}
      {call.record && recordPath && (
        <p class="sp-record small">
          About <a href={`${recordPath}${encodeURIComponent(call.record.id)}`}>{call.record.name}</a>
        </p>
      )}
      {call.phase === 'active' && call.answeredAt && <CallTimer since={call.answeredAt} />}

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
    </section>
  );
}
