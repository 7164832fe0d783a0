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
}

export interface CrmCard {
  callerName: string | null;
  /** The other party is a colleague (an internal call): no CRM lookup. */
  colleague: string | null;
  matches: CrmMatch[];
}

/**
 * The server's screen pop, pushed to every browser of the user as a SIP MESSAGE
 * (`application/vnd.ringside+json`) when a call starts (src/calls/call-desk.ts).
 */
export interface ScreenPop {
  type: 'screen-pop';
  call_id: string;
  direction: 'inbound' | 'outbound';
  caller_name: string | null;
  colleague: string | null;
  matches: CrmMatch[];
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
  | { type: 'dismiss-notice' };

/** The server's answer to `GET /api/v1/softphone`. */
export interface SoftphoneSettings {
  user: { id: string; name: string; email: string; extension: string | null; sip_username: string };
  sip: { uri: string; domain: string; display_name: string; ws_path: string };
  ice_servers: { urls: string | string[]; username?: string; credential?: string }[];
  ice_transport_policy: 'all' | 'relay';
}
