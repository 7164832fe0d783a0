/**
 * The location service: each user's registered devices (bindings), kept in the database so they
 * survive a restart and any node can read them. A binding on a connection (TCP, TLS, WebSocket)
 * lives only as long as that connection: when it closes the binding goes (RFC 5626 §5.3), and at
 * start a node drops the connection-bound bindings it held before it stopped.
 */
import { TtlCache } from '../shared/ttl-cache.ts';
import { newId, nowIso, type Registration, type Store } from '../store/index.ts';
import type { Destination, Flow, Source, TransportLayer, TransportProtocol } from '../sip/index.ts';

export interface BindingInput {
  userId: string;
  contact: string;
  instanceId: string | null;
  regId: number | null;
  callId: string;
  cseq: number;
  q: string | null;
  expiresS: number;
  source: Source;
  userAgent: string | null;
}

export type UpdateOutcome = 'updated' | 'removed' | 'stale';

export class LocationService {
  private readonly clock: () => number;
  private readonly maxContacts: number;
  /** Flows whose close we already listen to. */
  private readonly watched = new WeakSet<Flow>();
  /**
   * Every call reads its callee's devices. Changes made on this node invalidate at once; the
   * short TTL bounds how long a device registered on another node takes to start ringing.
   */
  private readonly cache: TtlCache<string, Registration[]>;

  constructor(
    private readonly store: Store,
    private readonly transport: TransportLayer,
    private readonly nodeId: string,
    options: { clock?: () => number; maxContacts: number },
  ) {
    this.clock = options.clock ?? Date.now;
    this.maxContacts = options.maxContacts;
    this.cache = new TtlCache(2000, 50_000, this.clock);
  }

  /** Bindings this node held on connections that died with its last process. */
  async dropStaleFlows(): Promise<number> {
    const result = await this.store.db
      .deleteFrom('registrations')
      .where('node_id', '=', this.nodeId)
      .where('flow_id', 'is not', null)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** The user's live bindings (not expired), newest first. */
  async bindings(userId: string): Promise<Registration[]> {
    const all = await this.cache.getOrLoad(userId, () =>
      this.store.db
        .selectFrom('registrations')
        .selectAll()
        .where('user_id', '=', userId)
        .where('expires_at', '>', nowIso(this.clock))
        .orderBy('updated_at', 'desc')
        .execute(),
    );
    const now = nowIso(this.clock);
    return all.filter((b) => b.expires_at > now);
  }

  /** How to reach a binding now, or undefined when its connection is gone. */
  destination(binding: Registration): Destination | undefined {
    const protocol = binding.transport as TransportProtocol;
    if (binding.flow_id) {
      if (binding.node_id !== this.nodeId) return undefined; // held by another node (scale path: forward there)
      const flow = this.transport.flow(binding.flow_id);
      if (!flow || flow.closed) return undefined;
      return { protocol, address: flow.remoteAddress, port: flow.remotePort, flow };
    }
    // UDP: where the REGISTER came from, which also works behind NAT (RFC 5626 spirit).
    return { protocol, address: binding.source_address, port: binding.source_port };
  }

  /**
   * Adds, refreshes or removes one binding (RFC 3261 §10.3 step 7, RFC 5626 §6): a binding is
   * the same one when `+sip.instance` and `reg-id` match, else when the Contact URI matches; a
   * request older (same Call-ID, lower CSeq) than the stored one changes nothing.
   */
  async update(input: BindingInput): Promise<UpdateOutcome> {
    this.cache.delete(input.userId);
    const now = this.clock();
    const existing = await this.findExisting(input);
    if (existing && existing.call_id === input.callId && input.cseq <= existing.cseq && input.expiresS > 0) {
      return 'stale';
    }
    if (input.expiresS === 0) {
      if (existing) await this.store.db.deleteFrom('registrations').where('id', '=', existing.id).execute();
      this.cache.delete(input.userId);
      return 'removed';
    }
    const flow = input.source.flow;
    const values = {
      user_id: input.userId,
      contact: input.contact,
      instance_id: input.instanceId,
      reg_id: input.regId,
      call_id: input.callId,
      cseq: input.cseq,
      q: input.q,
      expires_at: nowIso(() => now + input.expiresS * 1000),
      transport: input.source.protocol,
      source_address: input.source.address,
      source_port: input.source.port,
      flow_id: flow?.id ?? null,
      node_id: this.nodeId,
      user_agent: input.userAgent?.slice(0, 200) ?? null,
      device: describeDevice(input.userAgent, input.source.protocol),
      updated_at: nowIso(() => now),
    };
    if (existing) {
      await this.store.db.updateTable('registrations').set(values).where('id', '=', existing.id).execute();
    } else {
      await this.store.db.insertInto('registrations').values({ ...values, id: newId(), created_at: nowIso(() => now) }).execute();
      await this.enforceLimit(input.userId);
    }
    this.cache.delete(input.userId); // a call may have re-read the old list meanwhile
    if (flow) this.watch(flow);
    return 'updated';
  }

  async removeAll(userId: string, options: { keepBrowsers?: boolean } = {}): Promise<void> {
    this.cache.delete(userId);
    let q = this.store.db.deleteFrom('registrations').where('user_id', '=', userId);
    if (options.keepBrowsers) q = q.where('transport', 'not in', ['WS', 'WSS']);
    await q.execute();
    this.cache.delete(userId);
  }

  /** Bindings made over this connection. */
  async removeFlow(flowId: string): Promise<void> {
    await this.store.db.deleteFrom('registrations').where('flow_id', '=', flowId).execute();
    this.cache.clear();
  }

  async purgeExpired(): Promise<void> {
    // Cached lists are filtered by expiry when read: nothing to invalidate here.
    await this.store.db.deleteFrom('registrations').where('expires_at', '<=', nowIso(this.clock)).execute();
  }

  private async findExisting(input: BindingInput): Promise<Registration | undefined> {
    let q = this.store.db.selectFrom('registrations').selectAll().where('user_id', '=', input.userId);
    if (input.instanceId) {
      q = q.where('instance_id', '=', input.instanceId);
      q = input.regId === null ? q.where('reg_id', 'is', null) : q.where('reg_id', '=', input.regId);
    } else {
      q = q.where('contact', '=', input.contact);
    }
    return q.executeTakeFirst();
  }

  /** Keeps at most `maxContacts` bindings: the least recently refreshed go first. */
  private async enforceLimit(userId: string): Promise<void> {
    const all = await this.store.db
      .selectFrom('registrations')
      .select(['id'])
      .where('user_id', '=', userId)
      .orderBy('updated_at', 'desc')
      .execute();
    const excess = all.slice(this.maxContacts).map((r) => r.id);
    if (excess.length > 0) await this.store.db.deleteFrom('registrations').where('id', 'in', excess).execute();
  }

  private watch(flow: Flow): void {
    if (this.watched.has(flow)) return;
    this.watched.add(flow);
    flow.on('close', () => void this.removeFlow(flow.id).catch(() => undefined));
  }
}

/** "baresip (UDP)", "Browser", "Yealink SIP-T46S (TCP)": how a device is named to people. */
export function describeDevice(userAgent: string | null, protocol: TransportProtocol): string {
  if (protocol === 'WS' || protocol === 'WSS') return 'Browser';
  const product = userAgent?.trim().split(/[/\s]/)[0]?.slice(0, 40);
  return `${product || 'SIP phone'} (${protocol})`;
}
