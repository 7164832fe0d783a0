import { describe, expect, it } from 'vitest';
import { LoginThrottle } from './login-throttle.ts';

describe('login throttle', () => {
  const make = () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle({ maxFailuresPerAccount: 3, maxFailuresPerIp: 5, windowMinutes: 15, clock: () => now });
    return { throttle, advance: (ms: number) => (now += ms) };
  };

  it('pauses an account after its failures, for the rest of the window, then lets it in again', () => {
    const { throttle, advance } = make();
    for (let i = 0; i < 3; i++) throttle.failed('Jane@Example.com', `10.0.0.${i}`);
    expect(throttle.check('jane@example.com', '10.0.0.9')).toEqual({ allowed: false, reason: 'account', retryAfterS: 900 });
    advance(10 * 60_000);
    expect(throttle.check('jane@example.com', '10.0.0.9')).toMatchObject({ allowed: false, retryAfterS: 300 });
    advance(5 * 60_000);
    expect(throttle.check('jane@example.com', '10.0.0.9')).toEqual({ allowed: true });
  });

  it('pauses an address guessing at many accounts, but not the accounts elsewhere', () => {
    const { throttle } = make();
    for (let i = 0; i < 5; i++) throttle.failed(`user${i}@example.com`, '192.0.2.7');
    expect(throttle.check('someone@example.com', '192.0.2.7')).toMatchObject({ allowed: false, reason: 'ip' });
    expect(throttle.check('user1@example.com', '192.0.2.8')).toEqual({ allowed: true });
  });

  it('never counts successful sign-ins: an office behind one address is not blocked', () => {
    const { throttle } = make();
    for (let i = 0; i < 500; i++) {
      expect(throttle.check(`rep${i}@example.com`, '198.51.100.1').allowed).toBe(true);
      throttle.succeeded(`rep${i}@example.com`);
    }
  });

  it('forgets an account’s failures once it signs in', () => {
    const { throttle } = make();
    throttle.failed('a@example.com', '10.0.0.1');
    throttle.failed('a@example.com', '10.0.0.1');
    throttle.succeeded('a@example.com');
    throttle.failed('a@example.com', '10.0.0.1');
    throttle.failed('a@example.com', '10.0.0.1');
    expect(throttle.check('a@example.com', '10.0.0.1')).toEqual({ allowed: true });
  });
});
