import type { PhoneController } from '../phone/controller.ts';
import type { WrapUp } from '../phone/model.ts';
import { Avatar } from './CrmCard.tsx';
import { duration } from './format.ts';
import { Notes } from './Notes.tsx';

/** After a call: who it was, its record, and the notes, until Done. */
export function WrapUpCard({ controller, wrapUp }: { controller: PhoneController; wrapUp: WrapUp }) {
  return (
    <section class="sp-wrapup" aria-label={`Wrap-up of the call with ${wrapUp.name}`}>
      <div class="sp-wrapup-head">
        <Avatar name={wrapUp.name} size="sm" />
        <div class="sp-wrapup-who">
          <strong>{wrapUp.name}</strong>
          <span class="sp-wrapup-meta">
            {wrapUp.direction === 'incoming' ? 'Inbound' : 'Outbound'}
            {wrapUp.durationS !== null && <> · {duration(wrapUp.durationS)}</>}
            {wrapUp.numberDisplay && wrapUp.numberDisplay !== wrapUp.name && <> · {wrapUp.numberDisplay}</>}
          </span>
        </div>
      </div>
      <Notes callId={wrapUp.callId} />
      <div class="sp-wrapup-actions">
        <button type="button" class="sp-done" onClick={() => controller.execute({ type: 'dismiss-wrap-up' })}>
          Done
        </button>
        {wrapUp.record && (
          <a class="sp-open-record" href={wrapUp.record.url}>
            Open record
          </a>
        )}
      </div>
    </section>
  );
}
