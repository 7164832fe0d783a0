// Ringside CRM pages: wires the 📞 and ✉ buttons to the softphone (when one is on the page) and
// asks before destructive actions. Plain ES module, no build step.

function toast(message) {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), 4000);
}

function recordOf(button) {
  const d = button.dataset;
  return d.recordType ? { type: d.recordType, id: d.recordId, name: d.recordName } : null;
}

document.addEventListener('click', (event) => {
  const target = event.target instanceof Element ? event.target : null;
  const call = target?.closest('.call-button');
  if (call) {
    event.preventDefault();
    const detail = { number: call.dataset.dial, ext: call.dataset.ext || null, record: recordOf(call), handled: false };
    // The softphone listens for this event and sets `handled`; without one, say so instead of failing silently.
    window.dispatchEvent(new CustomEvent('ringside:dial', { detail }));
    if (!detail.handled) toast(`The softphone is not connected in this page, so ${call.dataset.dial} cannot be dialled from here yet.`);
    return;
  }
  const invite = target?.closest('.invite-button');
  if (invite) {
    event.preventDefault();
    const detail = { email: invite.dataset.invite, record: recordOf(invite), handled: false };
    window.dispatchEvent(new CustomEvent('ringside:invite', { detail }));
    if (!detail.handled) toast(`Video invitations are not available in this page yet.`);
  }
});

document.addEventListener('submit', (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
