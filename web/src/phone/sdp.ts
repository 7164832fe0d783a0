/** The little the widget reads from SDP itself (JsSIP and the browser do the rest). */

/** The video sections in use: a port, or port 0 kept only for BUNDLE (RFC 8843 bundle-only). */
function videoSections(sdp: string): string[] {
  return sdp.split(/\r?\n(?=m=)/).filter((section) => /^m=video [1-9]/.test(section) || (/^m=video 0 /.test(section) && /^a=bundle-only\s*$/m.test(section)));
}

/** Does this SDP (the other side's) send video: a video section in use, not recvonly/inactive? */
export function sdpSendsVideo(sdp: string): boolean {
  return videoSections(sdp).some((section) => {
    const direction = /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m.exec(section)?.[1] ?? 'sendrecv';
    return direction === 'sendrecv' || direction === 'sendonly';
  });
}

/** Does this SDP offer a video section at all (answering may turn the camera on)? */
export function sdpHasVideo(sdp: string): boolean {
  return videoSections(sdp).length > 0;
}

/** Were RFC 4733 telephone-events negotiated? */
export function sdpHasTelephoneEvent(sdp: string): boolean {
  return /^a=rtpmap:\d+ telephone-event\//im.test(sdp);
}
