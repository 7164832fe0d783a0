/** "Video on" turns the camera on (before a call: calls start and are answered with video). */
export function VideoToggle({ on, onChange }: { on: boolean; onChange: (on: boolean) => void }) {
  return (
    <button type="button" class={`sp-video ${on ? 'sp-on' : ''}`} onClick={() => onChange(!on)}>
      {on ? 'Video off' : 'Video on'}
    </button>
  );
}
