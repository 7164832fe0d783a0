/** The little the widget reads from SDP itself (JsSIP and the browser do the rest). */

/** Does this SDP (the other side's) send video: a video section with a port, not recvonly/inactive? */
export function sdpSendsVideo(sdp: string): boolean {
  const sections = sdp.split(/\r?\n(?=m=)/);
  return sections.some((section) => {
    if (!/^m=video [1-9]/.test(section)) return false;
    const direction = /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m.exec(section)?.[1] ?? 'sendrecv';
    return direction === 'sendrecv' || direction === 'sendonly';
  });
}

/** Does this SDP offer a video section at all (answering may turn the camera on)? */
export function sdpHasVideo(sdp: string): boolean {
  return /^m=video [1-9]/m.test(sdp);
}

/** Were RFC 4733 telephone-events negotiated? */
export function sdpHasTelephoneEvent(sdp: string): boolean {
  return /^a=rtpmap:\d+ telephone-event\//im.test(sdp);
}
