/** The widget's pure parts, in Node: what a typed number becomes, what a failure is called, SDP reading. */
import { describe, expect, it } from 'vitest';
import { failureMessage, registrationMessage } from '../../web/src/phone/messages.ts';
import { sdpHasTelephoneEvent, sdpHasVideo, sdpSendsVideo } from '../../web/src/phone/sdp.ts';
import { parseTarget } from '../../web/src/phone/target.ts';

describe('what the Number field dials', () => {
  const uri = (input: string) => parseTarget(input, 'example.com')?.uri ?? null;

  it('takes numbers in any format, extensions, user names and SIP addresses', () => {
    expect(uri('(415) 555-0134')).toBe('sip:4155550134@example.com');
    expect(uri('+1-415-555-0134')).toBe('sip:+14155550134@example.com');
    expect(uri('0044 20 7946 0321')).toBe('sip:00442079460321@example.com');
    expect(uri('1002')).toBe('sip:1002@example.com');
    expect(uri('bob')).toBe('sip:bob@example.com');
    expect(uri('bob@other.example')).toBe('sip:bob@other.example');
    expect(uri('sip:bob@other.example;transport=tcp')).toBe('sip:bob@other.example;transport=tcp');
    expect(uri('*72#')).toBe('sip:*72%23@example.com');
  });

  it('keeps an extension behind a main number for the keypad', () => {
    expect(parseTarget('415.555.0134 x204', 'example.com')).toEqual({ uri: 'sip:4155550134@example.com', display: '415.555.0134', extension: '204' });
    expect(parseTarget('+1 415 555 0134 ext. 9', 'example.com')?.extension).toBe('9');
  });

  it('refuses what cannot be called', () => {
    for (const bad of ['', '   ', 'Jane Doe', 'bob@', '<sip:bob@x>', 'sip:bob', 'a"b@example.com', 'line\r\nX-Evil: 1']) expect(uri(bad), bad).toBeNull();
  });
});

describe('what a failed call is called', () => {
  const outgoing = (status: number | null, reasonPhrase: string | null, cause = 'SIP Failure Code', originator = 'remote') =>
    failureMessage({ status, reasonPhrase, cause, originator }, 'outgoing');

  it('says busy, no answer and not allowed the way a person would', () => {
    expect(outgoing(486, 'Busy Here', 'Busy')).toBe('User busy');
    expect(outgoing(600, 'Busy Everywhere', 'Busy')).toBe('User busy');
    expect(outgoing(480, 'No Answer', 'Unavailable')).toBe('No answer');
    expect(outgoing(408, 'Request Timeout', 'Unavailable')).toBe('No answer');
    expect(outgoing(403, 'Number not allowed', 'Rejected')).toBe('Number not allowed');
    expect(outgoing(403, 'Number not allowed: premium rate', 'Rejected')).toBe('Number not allowed: premium rate');
    expect(outgoing(503, 'Too many calls in progress (limit 20)', 'SIP Failure Code')).toBe('Too many calls in progress (limit 20)');
    expect(outgoing(503, 'Service Unavailable', 'SIP Failure Code')).toBe('The phone service is unavailable right now');
    expect(outgoing(403, 'Forbidden', 'Rejected')).toBe('Not allowed');
    expect(outgoing(404, 'No route to external numbers', 'Not Found')).toBe('Number not found: No route to external numbers');
    expect(outgoing(603, 'Decline', 'Rejected')).toBe('Call declined');
    expect(outgoing(488, 'Not Acceptable Here', 'Incompatible SDP')).toBe('The other side cannot take this call (no media in common)');
  });

  it('names a blocked microphone and a lost connection', () => {
    expect(outgoing(null, null, 'User Denied Media Access', 'local')).toMatch(/^Microphone blocked/);
    expect(outgoing(null, null, 'Connection Error', 'system')).toBe('Connection to the phone service lost');
    expect(failureMessage({ status: 487, reasonPhrase: 'Request Terminated', cause: 'Canceled', originator: 'remote' }, 'incoming')).toBe('Missed call');
  });

  it('explains registration failures', () => {
    expect(registrationMessage('Rejected', 403)).toBe('Not allowed to register this phone');
    expect(registrationMessage('Connection Error', null)).toBe('Cannot reach the phone service');
  });
});

describe('SDP the widget reads', () => {
  const sdp = (...lines: string[]) => ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 't=0 0', ...lines].join('\r\n') + '\r\n';

  it('tells whether the other side sends video', () => {
    const audio = ['m=audio 5000 UDP/TLS/RTP/SAVPF 111', 'a=rtpmap:111 opus/48000/2', 'a=sendrecv'];
    expect(sdpSendsVideo(sdp(...audio))).toBe(false);
    expect(sdpSendsVideo(sdp(...audio, 'm=video 5002 UDP/TLS/RTP/SAVPF 96', 'a=sendrecv'))).toBe(true);
    expect(sdpSendsVideo(sdp(...audio, 'm=video 5002 UDP/TLS/RTP/SAVPF 96', 'a=recvonly'))).toBe(false);
    expect(sdpSendsVideo(sdp(...audio, 'm=video 0 UDP/TLS/RTP/SAVPF 96'))).toBe(false);
    expect(sdpSendsVideo(sdp(...audio, 'm=video 0 UDP/TLS/RTP/SAVPF 96', 'a=bundle-only', 'a=sendonly'))).toBe(true);
    expect(sdpHasVideo(sdp(...audio, 'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=recvonly'))).toBe(true);
    expect(sdpHasTelephoneEvent(sdp(...audio, 'a=rtpmap:101 telephone-event/8000'))).toBe(true);
    expect(sdpHasTelephoneEvent(sdp(...audio))).toBe(false);
  });
});
