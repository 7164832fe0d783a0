import { useEffect, useState } from 'preact/hooks';
import { formatSeconds } from '../phone/softphone.ts';

/** Time since the call was answered, ticking each second (not announced: a timer would chatter). */
export function CallTimer({ since }: { since: number }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const seconds = Math.max(0, Math.floor((now - since) / 1000));
  return (
    <span class="sp-timer" role="timer" aria-live="off" aria-label={`Call time ${formatSeconds(seconds)}`}>
      {formatSeconds(seconds)}
    </span>
  );
}
