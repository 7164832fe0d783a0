import { useEffect, useState } from 'preact/hooks';
import type { PhoneController } from '../phone/controller.ts';
import { canChooseSpeaker, chooseDevice, chosenDevice, listDevices, type DeviceKind, type DeviceOption } from '../phone/devices.ts';
import { requestNotificationPermission } from '../phone/ringer.ts';

const PICKERS: { kind: DeviceKind; label: string }[] = [
  { kind: 'audioinput', label: 'Microphone' },
  { kind: 'audiooutput', label: 'Speaker' },
  { kind: 'videoinput', label: 'Camera' },
];

/** Device pickers and the desktop-notification opt-in, folded away until wanted. */
export function Settings({ controller, onSpeakerChange }: { controller: PhoneController; onSpeakerChange: () => void }) {
  const [open, setOpen] = useState(false);
  const [devices, setDevices] = useState<Record<DeviceKind, DeviceOption[]> | null>(null);
  const [permission, setPermission] = useState(typeof Notification === 'undefined' ? 'denied' : Notification.permission);

  useEffect(() => {
    if (!open) return;
    const load = () => void listDevices().then(setDevices).catch(() => setDevices(null));
    load();
    navigator.mediaDevices?.addEventListener('devicechange', load);
    return () => navigator.mediaDevices?.removeEventListener('devicechange', load);
  }, [open]);

  const pick = (kind: DeviceKind, id: string) => {
    chooseDevice(kind, id || null);
    if (kind === 'audiooutput') onSpeakerChange();
    else controller.execute({ type: 'devices' });
  };

  return (
    <details class="sp-settings" onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>Devices and notifications</summary>
      {open &&
        PICKERS.filter((p) => p.kind !== 'audiooutput' || canChooseSpeaker()).map(({ kind, label }) => (
          <div class="field" key={kind}>
            <label for={`sp-device-${kind}`}>{label}</label>
            <select id={`sp-device-${kind}`} value={chosenDevice(kind) ?? ''} onChange={(e) => pick(kind, e.currentTarget.value)}>
              <option value="">System default</option>
              {(devices?.[kind] ?? []).map((d) => (
                <option value={d.id} key={d.id}>
                  {d.label}
                </option>
              ))}
            </select>
          </div>
        ))}
      {open && devices && devices.audioinput.length === 0 && <p class="small muted">Device names appear once the browser has allowed the microphone (after the first call).</p>}
      {permission === 'default' && (
        <button type="button" class="link-like" onClick={() => void requestNotificationPermission().then(setPermission)}>
          Show incoming calls as desktop notifications
        </button>
      )}
      {permission === 'granted' && <p class="small muted">Incoming calls show as desktop notifications when Ringside is in the background.</p>}
      {permission === 'denied' && typeof Notification !== 'undefined' && <p class="small muted">Desktop notifications are blocked for this site.</p>}
    </details>
  );
}
