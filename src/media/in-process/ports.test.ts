import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { RelayError } from '../types.ts';
import { PortPool, type PortPair } from './ports.ts';

describe('media port pairs', () => {
  it('are handed out at random, not one after the other (the next call\'s port cannot be guessed from the last)', async () => {
    const pool = new PortPool(25000, 25999, '127.0.0.1');
    const pairs: PortPair[] = [];
    for (let i = 0; i < 8; i++) pairs.push(await pool.bindPair());
    const ports = pairs.map((p) => p.port);
    for (const p of pairs) pool.release(p);
    expect(ports.every((p) => p % 2 === 0 && p >= 25000 && p <= 25998)).toBe(true);
    const steps = ports.slice(1).map((p, i) => p - ports[i]!);
    expect(steps.filter((d) => d === 2).length).toBeLessThan(steps.length); // 1 in 500^7 to fail by chance
  });

  it('skip a port another program holds, use every free pair, then refuse with 503', async () => {
    const squatter = createSocket('udp4');
    squatter.bind(25105, '127.0.0.1'); // the RTCP half of pair 25104
    await once(squatter, 'listening');
    const pool = new PortPool(25100, 25119, '127.0.0.1');
    const pairs: PortPair[] = [];
    try {
      for (let i = 0; i < 9; i++) pairs.push(await pool.bindPair());
      expect(pairs.map((p) => p.port).sort()).toEqual([25100, 25102, 25106, 25108, 25110, 25112, 25114, 25116, 25118]);
      await expect(pool.bindPair()).rejects.toMatchObject({ sipStatus: 503 });
      await expect(pool.bindPair()).rejects.toBeInstanceOf(RelayError);
    } finally {
      for (const p of pairs) pool.release(p);
      squatter.close();
    }
  });
});
