import { useEffect, useState } from 'preact/hooks';
import type { PhoneController } from '../phone/controller.ts';

/** Re-renders the component whenever the phone's state, role or media change. */
export function usePhone(controller: PhoneController): void {
  const [, setVersion] = useState(0);
  useEffect(() => {
    const unsubscribe = controller.subscribe(() => setVersion((v) => v + 1));
    // Effects run after the first paint: a change that came in between would otherwise be missed.
    setVersion((v) => v + 1);
    return unsubscribe;
  }, [controller]);
}
