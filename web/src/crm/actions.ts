/**
 * The CRM pages' buttons: 📞 asks the softphone to dial (`ringside:dial` on window), ✉ asks for a
 * video invitation (`ringside:invite`), and forms with `data-confirm` ask before they submit.
 * Whoever handles an event sets `detail.handled`; nobody handling it is said, never silent.
 */
import { toast } from './toast.ts';

interface RecordData {
  type: string;
  id: string;
  name: string;
}

function recordOf(button: HTMLElement): RecordData | null {
  const d = button.dataset;
  return d.recordType && d.recordId ? { type: d.recordType, id: d.recordId, name: d.recordName ?? '' } : null;
}

export function installCrmActions(): void {
  document.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const call = target?.closest<HTMLElement>('.call-button');
    if (call) {
      event.preventDefault();
      const detail = { number: call.dataset.dial ?? '', ext: call.dataset.ext || null, record: recordOf(call), handled: false };
      window.dispatchEvent(new CustomEvent('ringside:dial', { detail }));
      if (!detail.handled) toast(`The softphone is not connected in this page, so ${detail.number} cannot be dialled from here yet.`);
      return;
    }
    const invite = target?.closest<HTMLElement>('.invite-button');
    if (invite) {
      event.preventDefault();
      const detail = { email: invite.dataset.invite ?? '', record: recordOf(invite), handled: false };
      window.dispatchEvent(new CustomEvent('ringside:invite', { detail }));
      if (!detail.handled) toast('Video invitations are not available in this page yet.');
    }
  });

  // Runs before Turbo's own submit handling (Turbo listens last and skips prevented events).
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}
