import { useEffect, useState } from 'preact/hooks';
import type { PhoneController } from '../phone/controller.ts';

/** Re-renders the component whenever the phone's state, role or media change. */
export function usePhone(controller: PhoneController): void {
  const [, setVersion] = useState(0);
  useEffect(() => controller.subscribe(() => setVersion((v) => v + 1)), [controller]);
}
