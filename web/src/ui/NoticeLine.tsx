import type { Notice } from '../phone/model.ts';

/** The last thing worth saying (a failed call, a hint). Errors are alerts; the rest is polite. */
export function NoticeLine({ notice, onDismiss }: { notice: Notice | null; onDismiss: () => void }) {
  return (
    <div class="sp-notice-region" aria-live="polite">
      {notice && (
        <p class={`sp-notice sp-notice-${notice.kind}`} role={notice.kind === 'error' ? 'alert' : undefined} key={notice.id}>
          <span class="sp-notice-text">{notice.text}</span>
          <button type="button" class="sp-dismiss" aria-label="Dismiss message" onClick={onDismiss}>
            ×
          </button>
        </p>
      )}
    </div>
  );
}
