/**
 * Modal dialogs that never block the phone. Every dialog of the signed-in pages opens with
 * `showPageModal(dialog)`, never `dialog.showModal()`.
 *
 * Why: a native modal dialog (`showModal()`) makes everything outside it inert, the softphone
 * panel included, and nothing can be exempted (not even a popover shown above it in the top
 * layer). A call that rings while the invite dialog shows its join link could then be neither
 * answered nor hung up, by mouse or keyboard. Closing the dialog when a call rings was the other
 * way out; it was not taken because it takes the dialog away from under the user's hands (a
 * half-written invitation, the link they were about to copy) and does nothing for the calls
 * already in progress (Hang up, Mute, Hold) while a dialog opens. So the rule is the one a phone
 * on a desk follows: **a dialog blocks the page, never the phone.**
 *
 * The dialog is shown non-modally (`show()`) and made modal for the page by hand: everything
 * outside the dialog and the phone panel gets `inert` (no clicks, no focus, hidden from screen
 * readers, exactly what `showModal()` does), a backdrop dims the page but not the panel, Escape
 * closes it, focus goes in and comes back to where it was. Tab therefore moves between the
 * dialog and the panel only: Shift+Tab from the dialog's first control reaches the panel's last,
 * Tab past the dialog's end wraps to the panel's first (Answer, while a call rings). The panel is
 * drawn above the dialog and the backdrop, and on wide screens the dialog is centred over the page
 * column beside the panel (page-modal.css), so Answer is never covered. On narrow screens the
 * panel is below the page: scrolled into view it may cover part of the (fixed) dialog, and
 * scrolled away it uncovers it; the other order could hide Answer behind a tall dialog for good.
 * No `aria-modal`: it would tell screen readers to hide the panel too; `inert` hides the rest.
 */
import './styles/page-modal.css';
import { PANEL_ID } from './widget.ts';

const OPEN_CLASS = 'page-modal-open';
const BACKDROP_CLASS = 'page-modal-backdrop';

interface OpenModal {
  /** Gives the page back: inert and backdrop gone, focus back to what opened the dialog. */
  release(): void;
}

/** The one dialog open with showPageModal (they do not stack). */
let current: OpenModal | undefined;

/** What stays usable while the dialog is open: the dialog itself and the phone panel. */
function liveElements(dialog: HTMLDialogElement): Element[] {
  const panel = document.getElementById(PANEL_ID);
  return panel ? [dialog, panel] : [dialog];
}

/**
 * Makes inert every element that neither is nor contains a live element: walking down from
 * <body>, the siblings along the way to each live element. Idempotent; remembers what it changed.
 */
function inertAllBut(live: Element[], madeInert: Set<Element>, backdrop: Element): void {
  const visit = (parent: Element) => {
    for (const child of Array.from(parent.children)) {
      if (live.includes(child) || child === backdrop) continue;
      if (live.some((el) => child.contains(el))) visit(child);
      else if (!child.hasAttribute('inert') && child.tagName !== 'SCRIPT') {
        child.setAttribute('inert', '');
        madeInert.add(child);
      }
    }
  };
  visit(document.body);
}

function focusInside(dialog: HTMLDialogElement): void {
  if (dialog.contains(document.activeElement)) return;
  const first = dialog.querySelector<HTMLElement>('[autofocus]') ?? dialog.querySelector<HTMLElement>('button, input, select, textarea, a[href], [tabindex]:not([tabindex="-1"])');
  (first ?? dialog).focus();
}

/** Opens `dialog` modal for the page, with the phone panel left usable (see above). */
export function showPageModal(dialog: HTMLDialogElement): void {
  current?.release(); // a dialog replaced without being closed (or left behind by a page change)
  if (!dialog.isConnected) document.body.append(dialog);
  const backdrop = document.createElement('div');
  backdrop.className = BACKDROP_CLASS;
  backdrop.setAttribute('inert', '');
  dialog.before(backdrop);
  dialog.classList.add('page-modal');

  const madeInert = new Set<Element>();
  const returnFocus = document.activeElement;
  const onKeydown = (event: KeyboardEvent) => {
    if (event.key !== 'Escape' || event.defaultPrevented || event.isComposing) return;
    event.preventDefault();
    // As a native modal dialog does: `cancel` first (a page may refuse), then close.
    if (dialog.dispatchEvent(new Event('cancel', { cancelable: true }))) dialog.close();
  };
  // A Turbo visit keeps a copy of the page to show on Back: it must not hold an open dialog, nor
  // an inert page (the copy is taken right after this event, before any observer runs).
  const beforeCache = () => {
    dialog.close();
    modal.release();
  };
  // Content added to the page while open (a toast, a reloaded frame) is blocked too. The dialog
  // closed (its `open` gone) releases the page at once, not at the later `close` event, so that
  // focus is back where it was as soon as close() returns, as with showModal(); so does a dialog
  // removed without being closed (a page change).
  const observer = new MutationObserver(() => {
    if (!dialog.isConnected || !dialog.open) modal.release();
    else inertAllBut(liveElements(dialog), madeInert, backdrop);
  });

  const modal: OpenModal = {
    release() {
      if (current !== modal) return;
      current = undefined;
      observer.disconnect();
      for (const el of madeInert) el.removeAttribute('inert');
      backdrop.remove();
      dialog.classList.remove('page-modal');
      document.body.classList.remove(OPEN_CLASS);
      dialog.removeEventListener('keydown', onKeydown);
      dialog.removeEventListener('close', onClose);
      document.removeEventListener('turbo:before-cache', beforeCache);
      // Focus was in the dialog (now closed or gone): back to what opened it.
      const focus = document.activeElement;
      if ((focus === null || focus === document.body || dialog.contains(focus)) && returnFocus instanceof HTMLElement && returnFocus.isConnected && !returnFocus.closest('[inert]')) {
        returnFocus.focus();
      }
    },
  };
  const onClose = () => modal.release();
  current = modal;

  dialog.addEventListener('keydown', onKeydown);
  dialog.addEventListener('close', onClose);
  document.addEventListener('turbo:before-cache', beforeCache);
  document.body.classList.add(OPEN_CLASS);
  inertAllBut(liveElements(dialog), madeInert, backdrop);
  dialog.show();
  focusInside(dialog);
  observer.observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ['open'] });
}
