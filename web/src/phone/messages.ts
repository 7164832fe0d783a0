/**
 * Words for what went wrong, the way a salesperson would want to hear it. JsSIP reports a cause
 * and, for SIP failures, the response; the server's reason phrase is used where it says more than
 * the status does (403 "Number not allowed", 404 "No route to external numbers").
 */

export interface Failure {
  /** SIP status of the final response, when there was one. */
  status: number | null;
  reasonPhrase: string | null;
  /** JsSIP's cause (`JsSIP.C.causes`). */
  cause: string;
  /** Who ended it: 'local' (this browser), 'remote', 'system'. */
  originator: string;
}

export const MICROPHONE_BLOCKED =
  'Microphone blocked: allow the microphone for this site (the icon in the address bar), then try again.';

export function failureMessage(f: Failure, direction: 'incoming' | 'outgoing'): string {
  switch (f.status) {
    case 486:
    case 600:
      return 'User busy';
    case 480:
    case 408:
      return 'No answer';
    case 403:
      // "Number not allowed", or with why (premium rate, another country): the server's words.
      return /^number not allowed/i.test(f.reasonPhrase?.trim() ?? '') ? f.reasonPhrase!.trim() : `Not allowed${detail(f)}`;
    case 404:
    case 604:
      return `Number not found${detail(f)}`;
    case 484:
      return 'Incomplete number';
    case 487:
      return direction === 'incoming' ? 'Missed call' : 'Call cancelled';
    case 488:
    case 606:
      return 'The other side cannot take this call (no media in common)';
    case 603:
      return 'Call declined';
    case 503:
      // The per-user call limits say so in their reason ("Too many calls in progress …").
      return /^too many/i.test(f.reasonPhrase?.trim() ?? '') ? f.reasonPhrase!.trim() : 'The phone service is unavailable right now';
    default:
      break;
  }
  switch (f.cause) {
    case 'User Denied Media Access':
      return MICROPHONE_BLOCKED;
    case 'Canceled':
      return direction === 'incoming' && f.originator !== 'local' ? 'Missed call' : 'Call cancelled';
    case 'Rejected':
      return f.originator === 'local' ? 'Call declined' : 'Call rejected';
    case 'Busy':
      return 'User busy';
    case 'No Answer':
    case 'Unavailable':
      return 'No answer';
    case 'Connection Error':
    case 'Request Timeout':
      return 'Connection to the phone service lost';
    case 'WebRTC Error':
    case 'Bad Media Description':
    case 'Incompatible SDP':
      return 'The call could not set up its audio';
    case 'RTP Timeout':
      return 'The call lost its audio';
    default:
      return f.status ? `Call failed (${f.status}${f.reasonPhrase ? ` ${f.reasonPhrase}` : ''})` : `Call failed: ${f.cause}`;
  }
}

function detail(f: Failure): string {
  const phrase = f.reasonPhrase?.trim();
  if (!phrase || /^(forbidden|not found)$/i.test(phrase)) return '';
  return `: ${phrase}`;
}

/** Why registration failed, from JsSIP's cause and the REGISTER response. */
export function registrationMessage(cause: string | undefined, status: number | null): string {
  if (status === 403) return 'Not allowed to register this phone';
  if (status === 401 || status === 407 || cause === 'Authentication Error') return 'The server asked for a password: sign in again';
  if (cause === 'Connection Error') return 'Cannot reach the phone service';
  if (cause === 'Request Timeout') return 'The phone service did not answer';
  return status ? `Registration failed (${status})` : `Registration failed${cause ? `: ${cause}` : ''}`;
}
