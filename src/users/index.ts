/** Users of Ringside: directory, passwords, web sessions and login throttling. */
export { UserDirectory, type CreatedUser } from './directory.ts';
export { deviceHa1, devicePasswordRealmMismatch, generateDevicePassword } from './device-passwords.ts';
export { SessionStore, hashToken, type ActiveSession, type SessionEvents, type SessionInfo, type SessionOptions } from './sessions.ts';
export { LoginThrottle, type ThrottleVerdict } from './login-throttle.ts';
export { hashPassword, verifyPassword } from './passwords.ts';
export * as userSchemas from './schemas.ts';
export type { UserView, UserInput, Role } from './schemas.ts';
