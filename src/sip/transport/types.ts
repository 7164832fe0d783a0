/**
 * What the transport layer hands up and takes down: where a message came from, where one goes,
 * and flows — the connections (TCP, TLS, WebSocket) a message arrived on and a response or a
 * request to a registered device must go back on (RFC 5626 §5.3, RFC 7118 §5).
 */
import type { EventEmitter } from 'node:events';

export type TransportProtocol = 'UDP' | 'TCP' | 'TLS' | 'WS' | 'WSS';

export const RELIABLE: ReadonlySet<TransportProtocol> = new Set(['TCP', 'TLS', 'WS', 'WSS']);

/** A connection to a peer. Closing it makes every binding that uses it unreachable. */
export interface Flow extends EventEmitter {
  readonly id: string;
  readonly protocol: TransportProtocol;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly closed: boolean;
  /**
   * Who this connection speaks for, set by whoever authenticated it (the gateway binds a
   * WebSocket to its web session's user). Undefined for anonymous connections.
   */
  identity?: FlowIdentity;
  /**
   * A request on this connection passed digest authentication: from then on the connection is
   * known, and failures of others from its address (a shared NAT, a reverse proxy) never block it.
   */
  authenticated?: boolean;
  /** When the peer last sent anything (ms since epoch): idle flows are closed by one sweep, not a timer each. */
  lastActivity: number;
  send(data: Buffer): boolean;
  close(reason?: string): void;
  on(event: 'close', listener: () => void): this;
}

export interface FlowIdentity {
  kind: 'user' | 'guest';
  /** The user this connection speaks for; for a guest, the one user they may call. */
  userId: string;
  /** The SIP username this connection may use as From / Contact / REGISTER identity. */
  sipUsername: string;
  /** Web session id (revoking the session closes the flow). */
  sessionId?: string;
  /** A guest's invitation (kind `guest`): calls to `userId` only, one at a time, until `notAfter`. */
  guest?: GuestIdentity;
}

export interface GuestIdentity {
  invitationId: string;
  /** As the guest gave it on the join page, else as invited. */
  name: string;
  email: string;
  /** The CRM record invited: the call belongs to it. */
  record: { type: 'contact' | 'lead' | 'account'; id: string } | null;
  /** Calls are refused from this instant on (ms since epoch): the end of the invitation's window. */
  notAfter: number;
}

export interface Source {
  protocol: TransportProtocol;
  address: string;
  port: number;
  /** The connection, for connection-oriented transports. */
  flow?: Flow;
}

export interface Destination {
  protocol: TransportProtocol;
  address: string;
  port: number;
  /** Send on this connection when it is still open (responses, requests to a registered device). */
  flow?: Flow;
  /** For a new TLS connection: whose certificate to expect (a trunk's host name). */
  tls?: TlsPeer;
}

/** How a TLS connection we open checks the peer's certificate. */
export interface TlsPeer {
  /** The host name the certificate must name (also sent as SNI); the address when absent. */
  servername?: string;
  /** Verify the certificate chain and name (default true); false only by explicit configuration. */
  verify?: boolean;
  /** Trusted CA certificates (PEM) instead of the system's. */
  ca?: string | Buffer;
}

export function describe(s: Source | Destination): string {
  const host = s.address.includes(':') ? `[${s.address}]` : s.address;
  return `${s.protocol.toLowerCase()}:${host}:${s.port}`;
}
