export { TransportLayer, type TransportDelegate, type TransportLogger, type TransportOptions, type TransportStats, type WebSocketUpgradeAuth, UpgradeRefused } from './transport-layer.ts';
export { RELIABLE, describe, type Destination, type Flow, type FlowIdentity, type GuestIdentity, type Source, type TlsPeer, type TransportProtocol } from './types.ts';
export { normalizeAddress } from './flows.ts';
