import type { Registration } from '../phone/model.ts';

const LABEL: Record<Registration['status'], string> = {
  registered: 'Registered',
  connecting: 'Connecting',
  offline: 'Offline',
};

/** Registered / Connecting / Offline, with the reason; a polite live region, so changes are heard. */
export function StatusLine({ registration }: { registration: Registration }) {
  return (
    <p class={`sp-status sp-status-${registration.status}`} role="status" aria-live="polite" aria-atomic="true">
      <span class="sp-status-dot" aria-hidden="true" />
      <span id="sp-registration" data-status={registration.status}>
        {LABEL[registration.status]}
      </span>
      {registration.reason && <span class="sp-status-reason"> — {registration.reason}</span>}
    </p>
  );
}
