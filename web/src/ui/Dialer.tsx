import { useRef, useState } from 'preact/hooks';
import type { PhoneController } from '../phone/controller.ts';
import { Keypad } from './Keypad.tsx';
import { VideoToggle } from './VideoToggle.tsx';

/** The Number field and Call button; any format goes (number, extension, SIP address). */
export function Dialer({ controller }: { controller: PhoneController }) {
  const [number, setNumber] = useState('');
  const [keypad, setKeypad] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const { registration, videoPreferred } = controller.state;

  const submit = (event: Event) => {
    event.preventDefault();
    const target = number.trim();
    if (!target) {
      input.current?.focus();
      return;
    }
    controller.execute({ type: 'call', target });
  };

  return (
    <form class="sp-dialer" onSubmit={submit}>
      <label for="sp-number">Number</label>
      <input
        id="sp-number"
        ref={input}
        type="text"
        inputMode="tel"
        autoComplete="off"
        spellcheck={false}
        placeholder="Number, extension or SIP address"
        value={number}
        onInput={(e) => setNumber(e.currentTarget.value)}
      />
      <div class="sp-buttons">
        <button type="submit" class="primary" aria-describedby={registration.status === 'registered' ? undefined : 'sp-registration'}>
          Call
        </button>
        <VideoToggle on={videoPreferred} onChange={(on) => controller.execute({ type: 'video', on })} />
        <button type="button" aria-expanded={keypad} aria-controls="sp-dial-keypad" onClick={() => setKeypad(!keypad)}>
          Keypad
        </button>
      </div>
      <div id="sp-dial-keypad" hidden={!keypad}>
        {keypad && <Keypad label="Dial pad" onKey={(key) => setNumber((n) => n + key)} />}
      </div>
    </form>
  );
}
