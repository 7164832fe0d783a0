const KEYS: [string, string][] = [
  ['1', ''], ['2', 'ABC'], ['3', 'DEF'],
  ['4', 'GHI'], ['5', 'JKL'], ['6', 'MNO'],
  ['7', 'PQRS'], ['8', 'TUV'], ['9', 'WXYZ'],
  ['*', ''], ['0', '+'], ['#', ''],
];

/** Twelve keys; in a call they send DTMF, before one they type into the Number field. */
export function Keypad({ onKey, label }: { onKey: (key: string) => void; label: string }) {
  return (
    <div class="sp-keypad" role="group" aria-label={label}>
      {KEYS.map(([key, letters]) => (
        <button type="button" key={key} class="sp-key" aria-label={key} onClick={() => onKey(key)}>
          <span class="sp-key-digit">{key}</span>
          <span class="sp-key-letters" aria-hidden="true">{letters}</span>
        </button>
      ))}
    </div>
  );
}
