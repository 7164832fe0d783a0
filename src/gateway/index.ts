/**
 * Gateway role (the brief's SPiDR): the browser-facing edge. It binds each SIP-over-WebSocket
 * connection to the web session that opened it (cookie, or a short-lived token where cookies
 * cannot go), so the widget needs no SIP password and a connection can only speak for its own
 * user; it tells the widget how to connect, and hands out TURN credentials.
 */
export { SipGateway, type GatewayOptions, type GuestPass, type SoftphoneConfig, type IceServer } from './gateway.ts';
