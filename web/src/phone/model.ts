/**
 * What every tab knows about the phone, and what any tab may ask of it. The leader tab owns the
 * SIP user agent and the media; it sends `PhoneState` to the other tabs, which send `Command`s
 * back. Both cross a BroadcastChannel, so they are plain data: no functions, no streams.
 */

export type RegistrationStatus = 'registered' | 'connecting' | 'offline';

export interface Registration {
  status: RegistrationStatus;
  /** Why it is not registered (shown beside the status), or null. */
  reason: string | null;
}

/** The CRM record a call is about (from a 📞 button), sent to the server as `X-Ringside-Record`. */
export interface RecordRef {
  type: string;
  id: string;
  name: string;
}

export type CallPhase =
  /** Our INVITE is out, nothing back yet. */
  | 'dialing'
  /** The other side is ringing. */
  | 'ringing-out'
  /** Someone is calling us. */
  | 'ringing-in'
  /** Answered. */
  | 'active';

export interface CallView {
  /** JsSIP's session id: stable for the life of the call in this browser. */
  id: string;
  /** The server's id of the call (`X-Ringside-Call`), when it told us. */
  serverCallId: string | null;
  direction: 'incoming' | 'outgoing';
  phase: CallPhase;
  remote: { name: string | null; number: string };
  record: RecordRef | null;
  startedAt: number;
  answeredAt: number | null;
  muted: boolean;
  held: boolean;
  /** We send video. */
  localVideo: boolean;
  /** The other side sends video (or at least offered to). */
  remoteVideo: boolean;
  /** The incoming offer has video: answering can turn the camera on. */
  offersVideo: boolean;
  /** What the server found in the CRM for this call (its screen pop), once it arrives. */
  crm: CrmCard | null;
}

/** A CRM record matching the other party's number. */
export interface CrmMatch {
  type: string;
  id: string;
  name: string;
  title: string | null;
  account: string | null;
  url: string;
  last_activity?: { subject: string; at: string } | null;
}

export interface CrmCard {
  callerName: string | null;
  /** The other party is a colleague (an internal call): no CRM lookup. */
  colleague: string | null;
  matches: CrmMatch[];
  /** The other party's number as E.164 (for Add contact and Call back), and written for people. */
  number: string | null;
  numberDisplay: string | null;
  /**
   * The record this call is about: the only match, the one picked among several, the one added
   * with Add contact, or the click-to-dial record. Null while the person has yet to pick.
   */
  chosen: string | null;
}

/** The call that just ended, kept for its wrap-up notes until the person is done with it. */
export interface WrapUp {
  /** The server's call id (the notes go to `/api/v1/calls/:id/notes`). */
  callId: string;
  name: string;
  numberDisplay: string | null;
  direction: 'incoming' | 'outgoing';
  /** Seconds talked; null when it was never answered. */
  durationS: number | null;
  record: CrmMatch | null;
}

/**
 * The server's screen pop, pushed to every browser of the user as a SIP MESSAGE
 * (`application/vnd.ringside+json`) when a call starts (src/calls/call-desk.ts).
 */
export interface ScreenPop {
  type: 'screen-pop';
  call_id: string;
  direction: 'inbound' | 'outbound';
  number?: string | null;
  number_display?: string | null;
  caller_name: string | null;
  colleague: string | null;
  matches: CrmMatch[];
  linked?: { type: string; id: string } | null;
}

export interface Notice {
  kind: 'error' | 'info';
  text: string;
  /** Changes with every notice, so the same text twice is announced twice. */
  id: number;
}

export interface PhoneState {
  /** The signed-in user, once the softphone settings are loaded. */
  user: { name: string; uri: string; extension: string | null } | null;
  registration: Registration;
  call: CallView | null;
  /** The last call, while its wrap-up notes may still be typed. */
  wrapUp: WrapUp | null;
  notice: Notice | null;
  /** Calls start (and are answered) with the camera on. */
  videoPreferred: boolean;
  /** The microphone permission, as far as the browser tells. */
  microphone: 'granted' | 'denied' | 'prompt' | 'unknown';
}

export const INITIAL_STATE: PhoneState = {
  user: null,
  registration: { status: 'connecting', reason: null },
  call: null,
  wrapUp: null,
  notice: null,
  videoPreferred: false,
  microphone: 'unknown',
};

export type Command =
  | { type: 'call'; target: string; record?: RecordRef | null; ext?: string | null }
  | { type: 'answer' }
  | { type: 'decline' }
  | { type: 'hangup' }
  | { type: 'mute'; on: boolean }
  | { type: 'hold'; on: boolean }
  | { type: 'dtmf'; tone: string }
  | { type: 'video'; on: boolean }
  /** The device choices in localStorage changed: apply them to the call in progress. */
  | { type: 'devices' }
  | { type: 'dismiss-notice' }
  /** The call is about this record (picked among several, or just added): every tab shows it. */
  | { type: 'choose-record'; callId: string; record: CrmMatch }
  | { type: 'dismiss-wrap-up' };

/** The server's answer to `GET /api/v1/softphone`. */
export interface SoftphoneSettings {
  user: { id: string; name: string; email: string; extension: string | null; sip_username: string };
  sip: { uri: string; domain: string; display_name: string; ws_path: string };
  ice_servers: { urls: string | string[]; username?: string; credential?: string }[];
  ice_transport_policy: 'all' | 'relay';
}
