import { useEffect, useRef, useState } from 'preact/hooks';
import { draft, flush, seed, setDraft, type SaveState } from './notes-store.ts';

const STATE_TEXT: Record<SaveState, string> = { idle: '', saving: 'Saving…', saved: 'Saved', error: '' };

/**
 * Wrap-up notes of a call, saved as they are typed (during the call, after it, and from Recent
 * calls, which passes the notes the server has as `initial`). `scope` keeps the ids apart when the
 * same call's notes show twice (its wrap-up card and its row in Recent calls).
 */
export function Notes({
  callId,
  initial = null,
  scope = 'call',
  autoFocus = false,
  onChange,
}: {
  callId: string;
  initial?: string | null;
  scope?: string;
  autoFocus?: boolean;
  onChange?: (text: string) => void;
}) {
  const [text, setText] = useState(() => {
    if (initial !== null) seed(callId, initial);
    return draft(callId);
  });
  const [state, setState] = useState<SaveState>('idle');
  const [error, setError] = useState<string | null>(null);
  const onState = (s: SaveState, message?: string) => {
    setState(s);
    setError(s === 'error' ? (message ?? 'The notes could not be saved') : null);
  };
  useEffect(() => {
    if (initial !== null) seed(callId, initial);
    setText(draft(callId));
    return () => flush(callId);
  }, [callId]);
  const area = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    if (autoFocus) area.current?.focus();
  }, []);
  const id = `sp-notes-${scope}-${callId}`;
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
        ref={area}
        placeholder="What was it about? Next steps…"
        value={text}
        onInput={(e) => {
          setText(e.currentTarget.value);
          setDraft(callId, e.currentTarget.value, onState);
          onChange?.(e.currentTarget.value);
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
