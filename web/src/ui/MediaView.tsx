import { useEffect, useRef } from 'preact/hooks';
import { chosenDevice } from '../phone/devices.ts';
import type { SoftphoneMedia } from '../phone/softphone.ts';

type SinkElement = HTMLMediaElement & { setSinkId?: (id: string) => Promise<void> };

function useStream<T extends HTMLMediaElement>(stream: MediaStream | null) {
  const ref = useRef<T>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el || el.srcObject === stream) return;
    el.srcObject = stream;
    // Autoplay of a live stream is allowed while the page captures the microphone; if a browser
    // still refuses, the next click anywhere in the panel retries (see onClick below).
    if (stream) void el.play().catch(() => undefined);
  }, [stream]);
  return ref;
}

/**
 * The call's media, in the leader tab only: the other side's audio (through the chosen speaker)
 * and video, and our own camera. Lives in the permanent panel, so Turbo visits never pause it.
 */
export function MediaView({ media, remoteVideo, localVideo, speakerVersion }: { media: SoftphoneMedia; remoteVideo: boolean; localVideo: boolean; speakerVersion: number }) {
  const audio = useStream<HTMLAudioElement>(media.remote);
  const video = useStream<HTMLVideoElement>(media.remote);
  const self = useStream<HTMLVideoElement>(media.localVideo);

  useEffect(() => {
    const el = audio.current as SinkElement | null;
    const id = chosenDevice('audiooutput');
    if (el?.setSinkId && id) void el.setSinkId(id).catch(() => undefined);
  }, [speakerVersion, media.remote]);

  const resume = () => {
    for (const el of [audio.current, video.current, self.current]) if (el?.paused && el.srcObject) void el.play().catch(() => undefined);
  };

  return (
    <div class="sp-media" onClick={resume}>
      <audio ref={audio} autoPlay />
      <video ref={video} class="sp-remote-video" autoPlay playsInline muted hidden={!remoteVideo} aria-label="The other side's video" />
      <video ref={self} class="sp-self-video" autoPlay playsInline muted hidden={!localVideo || !media.localVideo} aria-label="Your camera" />
    </div>
  );
}
