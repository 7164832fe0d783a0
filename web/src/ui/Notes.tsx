import { useEffect, useState } from 'preact/hooks';
import { draft, flush, setDraft, type SaveState } from './notes-store.ts';

const STATE_TEXT: Record<SaveState, string> = { idle: '', saving: 'Saving…', saved: 'Saved', error: '' };

/** Wrap-up notes of a call, saved as they are typed (during the call and after it). */
export function Notes({ callId }: { callId: string }) {
  const [text, setText] = useState(() => draft(callId));
  const [state, setState] = useState<SaveState>('idle');
  const [error, setError] = useState<string | null>(null);
  const onState = (s: SaveState, message?: string) => {
    setState(s);
    setError(s === 'error' ? (message ?? 'The notes could not be saved') : null);
  };
  useEffect(() => {
    setText(draft(callId));
    return () => flush(callId);
  }, [callId]);
  const id = `sp-notes-${callId}`;
  return (
    <div class="sp-notes">
      <div class="sp-notes-head">
        <label for={id}>Wrap-up notes</label>
        <span class="sp-notes-state small muted" aria-live="polite">
          {STATE_TEXT[state]}
        </span>
      </div>
      <textarea
        id={id}
        rows={2}
        maxLength={10_000}
        placeholder="What was it about? Next steps…"
        value={text}
        onInput={(e) => {
          setText(e.currentTarget.value);
          setDraft(callId, e.currentTarget.value, onState);
        }}
        onBlur={() => flush(callId, onState)}
      />
      {error && (
        <p class="sp-form-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
