/**
 * The microphone, speaker and camera this browser should use. Choices live in localStorage, so
 * every tab shares them and the leader tab hears a change through the `storage` event; an id that
 * no longer exists (a headset unplugged) falls back to the system default.
 */

export type DeviceKind = 'audioinput' | 'audiooutput' | 'videoinput';

const KEY: Record<DeviceKind, string> = {
  audioinput: 'ringside.microphone',
  audiooutput: 'ringside.speaker',
  videoinput: 'ringside.camera',
};

export function chosenDevice(kind: DeviceKind): string | null {
  try {
    return localStorage.getItem(KEY[kind]);
  } catch {
    return null; // storage disabled: defaults
  }
}

export function chooseDevice(kind: DeviceKind, deviceId: string | null): void {
  try {
    if (deviceId) localStorage.setItem(KEY[kind], deviceId);
    else localStorage.removeItem(KEY[kind]);
  } catch {
    // Nothing to keep it in: the choice lasts until the page goes.
  }
}

export function isDeviceKey(key: string | null): boolean {
  return key !== null && Object.values(KEY).includes(key);
}

/** getUserMedia constraints for the chosen microphone (`ideal`: a missing one is not an error). */
export function audioConstraints(): MediaTrackConstraints | true {
  const id = chosenDevice('audioinput');
  return id ? { deviceId: { ideal: id } } : true;
}

export function videoConstraints(): MediaTrackConstraints {
  const id = chosenDevice('videoinput');
  return { width: { ideal: 640 }, height: { ideal: 360 }, ...(id ? { deviceId: { ideal: id } } : {}) };
}

export interface DeviceOption {
  id: string;
  label: string;
}

export async function listDevices(): Promise<Record<DeviceKind, DeviceOption[]>> {
  const lists: Record<DeviceKind, DeviceOption[]> = { audioinput: [], audiooutput: [], videoinput: [] };
  if (!navigator.mediaDevices?.enumerateDevices) return lists;
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const d of devices) {
    const list = lists[d.kind as DeviceKind];
    // Without a permission grant the browser lists devices without ids or names: nothing to pick.
    if (!list || !d.deviceId || d.deviceId === 'default' || d.deviceId === 'communications') continue;
    list.push({ id: d.deviceId, label: d.label || `${d.kind === 'audioinput' ? 'Microphone' : d.kind === 'audiooutput' ? 'Speaker' : 'Camera'} ${list.length + 1}` });
  }
  return lists;
}

/** Speaker choice needs `setSinkId` (Chromium; Firefox 116+). */
export function canChooseSpeaker(): boolean {
  return typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
}
