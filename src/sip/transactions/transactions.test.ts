/**
 * The four transaction state machines against the RFC's timers, with a recording transport and
 * fake clocks: every retransmission must happen exactly when RFC 3261 §17 says, and stop when it
 * says.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SipRequest, createResponse, parseMessage, type AnySipMessage, type SipResponse } from '../message/index.ts';
import type { Destination, Source } from '../transport/index.ts';
import { InviteClientTransaction, NonInviteClientTransaction, type ClientTransactionUser } from './client-transactions.ts';
import { InviteServerTransaction, NonInviteServerTransaction } from './server-transactions.ts';
import { TransactionLayer } from './transaction-layer.ts';
import type { TimerConfig } from './transaction.ts';

const TIMERS: TimerConfig = { T1: 500, T2: 4000, T4: 5000 };
const UDP: Destination = { protocol: 'UDP', address: '127.0.0.1', port: 5070 };
const TCP: Destination = { protocol: 'TCP', address: '127.0.0.1', port: 5070 };
const SOURCE: Source = { protocol: 'UDP', address: '127.0.0.1', port: 5070 };

class RecordingTransport {
  sent: { at: number; message: AnySipMessage }[] = [];
  fail = false;
  send(message: AnySipMessage): boolean {
    if (this.fail) return false;
    this.sent.push({ at: Date.now(), message });
    return true;
  }
  sendBytes(bytes: Buffer): boolean {
    return this.send(parseMessage(bytes));
  }
  times(start: number): number[] {
    return this.sent.map((s) => s.at - start);
  }
}

function request(method: string): SipRequest {
  return parseMessage(
    Buffer.from(
      `${method} sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKtest${method}\r\n` +
        `From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: c1@test\r\nCSeq: 1 ${method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
    ),
  ) as SipRequest;
}

function user() {
  const events: string[] = [];
  const u: ClientTransactionUser = {
    onResponse: (r: SipResponse) => events.push(String(r.status)),
    onTimeout: () => events.push('timeout'),
    onTransportError: () => events.push('transport-error'),
  };
  return { events, u };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('INVITE client transaction (RFC 3261 §17.1.1, RFC 6026)', () => {
  it('retransmits on Timer A at T1, 2T1, 4T1 … and times out on Timer B at 64*T1', () => {
    const transport = new RecordingTransport();
    const { events, u } = user();
    const t = new InviteClientTransaction('x', request('INVITE'), UDP, transport, TIMERS, u);
    t.start();
    vi.advanceTimersByTime(64 * 500 + 1);
    expect(transport.times(0)).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(events).toEqual(['timeout']);
    expect(t.state).toBe('Terminated');
  });

  it('stops retransmitting on a provisional and then waits for the final response without Timer B', () => {
    const transport = new RecordingTransport();
    const { events, u } = user();
    const invite = request('INVITE');
    const t = new InviteClientTransaction('x', invite, UDP, transport, TIMERS, u);
    t.start();
    t.receiveResponse(createResponse(invite, 180));
    vi.advanceTimersByTime(120_000);
    expect(transport.sent).toHaveLength(1);
    expect(t.state).toBe('Proceeding');
    expect(events).toEqual(['180']);
  });

  it('ACKs a failure itself, re-ACKs its retransmission, and leaves after Timer D', () => {
    const transport = new RecordingTransport();
    const { events, u } = user();
    const invite = request('INVITE');
    const t = new InviteClientTransaction('x', invite, UDP, transport, TIMERS, u);
    t.start();
    const busy = createResponse(invite, 486, { toTag: 'b1' });
    t.receiveResponse(busy);
    t.receiveResponse(busy);
    const acks = transport.sent.filter((s) => s.message.isRequest && (s.message as SipRequest).method === 'ACK');
    expect(acks).toHaveLength(2);
    const ack = acks[0]!.message as SipRequest;
    expect(ack.topVia.branch).toBe(invite.topVia.branch);
    expect(ack.to.tag).toBe('b1');
    expect(ack.cseq).toEqual({ seq: 1, method: 'ACK' });
    expect(events).toEqual(['486']); // the retransmission is absorbed
    vi.advanceTimersByTime(64 * 500);
    expect(t.state).toBe('Terminated');
  });

  it('passes every 2xx to the user while Accepted, then ends on Timer M', () => {
    const transport = new RecordingTransport();
    const { events, u } = user();
    const invite = request('INVITE');
    const t = new InviteClientTransaction('x', invite, UDP, transport, TIMERS, u);
    t.start();
    const ok = createResponse(invite, 200, { toTag: 'b1' });
    t.receiveResponse(ok);
    t.receiveResponse(ok);
    expect(t.state).toBe('Accepted');
    expect(events).toEqual(['200', '200']);
    vi.advanceTimersByTime(64 * 500);
    expect(t.state).toBe('Terminated');
  });

  it('does not retransmit over a reliable transport', () => {
    const transport = new RecordingTransport();
    const t = new InviteClientTransaction('x', request('INVITE'), TCP, transport, TIMERS, user().u);
    t.start();
    vi.advanceTimersByTime(10_000);
    expect(transport.sent).toHaveLength(1);
  });

  it('reports a transport error when the request cannot be sent', () => {
    const transport = new RecordingTransport();
    transport.fail = true;
    const { events, u } = user();
    new InviteClientTransaction('x', request('INVITE'), UDP, transport, TIMERS, u).start();
    expect(events).toEqual(['transport-error']);
  });
});

describe('non-INVITE client transaction (§17.1.2)', () => {
  it('retransmits on Timer E doubling up to T2, and times out on Timer F', () => {
    const transport = new RecordingTransport();
    const { events, u } = user();
    new NonInviteClientTransaction('x', request('OPTIONS'), UDP, transport, TIMERS, u).start();
    vi.advanceTimersByTime(64 * 500 + 1);
    expect(transport.times(0)).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(events).toEqual(['timeout']);
  });

  it('retransmits every T2 once a provisional arrived, and absorbs retransmitted finals for T4', () => {
    const transport = new RecordingTransport();
    const { events, u } = user();
    const req = request('BYE');
    const t = new NonInviteClientTransaction('x', req, UDP, transport, TIMERS, u);
    t.start();
    t.receiveResponse(createResponse(req, 100));
    vi.advanceTimersByTime(9000);
    expect(transport.times(0)).toEqual([0, 500, 4500, 8500]);
    const ok = createResponse(req, 200);
    t.receiveResponse(ok);
    t.receiveResponse(ok);
    expect(events).toEqual(['100', '200']);
    expect(t.state).toBe('Completed');
    vi.advanceTimersByTime(5000);
    expect(t.state).toBe('Terminated');
  });
});

describe('INVITE server transaction (§17.2.1, RFC 6026)', () => {
  it('sends 100 Trying when the user is silent for 200 ms', () => {
    const transport = new RecordingTransport();
    new InviteServerTransaction('x', request('INVITE'), SOURCE, UDP, transport, TIMERS);
    vi.advanceTimersByTime(200);
    expect((transport.sent[0]!.message as SipResponse).status).toBe(100);
  });

  it('retransmits a failure on Timer G until ACKed; the ACK is absorbed and Timer I ends it', () => {
    const transport = new RecordingTransport();
    const invite = request('INVITE');
    const t = new InviteServerTransaction('x', invite, SOURCE, UDP, transport, TIMERS);
    t.respond(createResponse(invite, 486, { toTag: t.localTag }));
    vi.advanceTimersByTime(7600);
    expect(transport.times(0)).toEqual([0, 500, 1500, 3500, 7500]);
    t.receiveRequest(request('ACK'));
    expect(t.state).toBe('Confirmed');
    vi.advanceTimersByTime(20_000);
    expect(transport.sent).toHaveLength(5);
    expect(t.state).toBe('Terminated');
  });

  it('gives up on Timer H when no ACK comes', () => {
    const transport = new RecordingTransport();
    const invite = request('INVITE');
    const t = new InviteServerTransaction('x', invite, SOURCE, UDP, transport, TIMERS);
    const noAck = vi.fn();
    t.on('ackTimeout', noAck);
    t.respond(createResponse(invite, 480, { toTag: t.localTag }));
    vi.advanceTimersByTime(64 * 500);
    expect(t.state).toBe('Terminated');
    expect(noAck).toHaveBeenCalledOnce();
  });

  it('answers a retransmitted INVITE with the last response, and absorbs it once Accepted', () => {
    const transport = new RecordingTransport();
    const invite = request('INVITE');
    const t = new InviteServerTransaction('x', invite, SOURCE, UDP, transport, TIMERS);
    t.respond(createResponse(invite, 180, { toTag: t.localTag }));
    t.receiveRequest(invite);
    expect(transport.sent.map((s) => (s.message as SipResponse).status)).toEqual([180, 180]);
    t.respond(createResponse(invite, 200, { toTag: t.localTag }));
    t.receiveRequest(invite);
    expect(transport.sent).toHaveLength(3);
    expect(t.state).toBe('Accepted');
    vi.advanceTimersByTime(64 * 500);
    expect(t.state).toBe('Terminated');
  });
});

describe('non-INVITE server transaction (§17.2.2)', () => {
  it('answers retransmissions with the final response during Timer J', () => {
    const transport = new RecordingTransport();
    const req = request('OPTIONS');
    const t = new NonInviteServerTransaction('x', req, SOURCE, UDP, transport, TIMERS);
    t.receiveRequest();
    expect(transport.sent).toHaveLength(0); // Trying: nothing to resend yet
    t.respond(createResponse(req, 200));
    t.receiveRequest();
    expect(transport.sent).toHaveLength(2);
    vi.advanceTimersByTime(64 * 500);
    expect(t.state).toBe('Terminated');
  });
});

describe('transaction layer', () => {
  it('matches retransmissions and ACKs to their transaction, answers CANCEL, and hands 2xx ACKs to the user', () => {
    const transport = new RecordingTransport();
    const layer = new TransactionLayer(transport, TIMERS);
    const requests: string[] = [];
    const acks: string[] = [];
    layer.user = { onRequest: (t) => requests.push(t.request.method), onAck: (a) => acks.push(a.topVia.branch ?? '') };
    const invite = request('INVITE');
    layer.receive(invite, SOURCE);
    layer.receive(invite, SOURCE); // retransmission: not a new request
    expect(requests).toEqual(['INVITE']);
    const cancel = request('CANCEL');
    cancel.setHeader('Via', invite.header('Via')!);
    layer.receive(cancel, SOURCE);
    expect((transport.sent.at(-1)!.message as SipResponse).status).toBe(200);
    const unknownCancel = request('CANCEL');
    layer.receive(unknownCancel, SOURCE);
    expect((transport.sent.at(-1)!.message as SipResponse).status).toBe(481);
    const ack = request('ACK');
    ack.setHeader('Via', 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKother');
    layer.receive(ack, SOURCE);
    expect(acks).toEqual(['z9hG4bKother']);
    layer.close();
  });

  /** A request with its own branch (a new transaction each). */
  function fresh(method: string, n: number): SipRequest {
    const r = request(method);
    r.setHeader('Via', `SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKfresh${n}`);
    return r;
  }

  it('keeps no transaction for a request its user does not admit', () => {
    const transport = new RecordingTransport();
    const layer = new TransactionLayer(transport, TIMERS);
    const requests: string[] = [];
    layer.user = { admit: () => false, onRequest: (t) => requests.push(t.request.method), onAck: () => undefined };
    for (let i = 0; i < 100; i++) layer.receive(fresh('OPTIONS', i), SOURCE);
    expect(requests).toEqual([]);
    expect(layer.size.servers).toBe(0);
    expect(transport.sent).toHaveLength(0);
    layer.close();
  });

  it('refuses new requests with a stateless 503 once the table holds maxServerTransactions', () => {
    const transport = new RecordingTransport();
    const layer = new TransactionLayer(transport, TIMERS, { maxServerTransactions: 10 });
    layer.user = { onRequest: () => undefined, onAck: () => undefined }; // never answers
    for (let i = 0; i < 15; i++) layer.receive(fresh('OPTIONS', i), SOURCE);
    expect(layer.size.servers).toBe(10);
    expect(transport.sent.map((s) => (s.message as SipResponse).status)).toEqual([503, 503, 503, 503, 503]);
    expect(layer.stats.overloaded).toBe(5);
    layer.close();
  });

  it('ends server transactions the user never answers at their hard lifetime', () => {
    const transport = new RecordingTransport();
    const layer = new TransactionLayer(transport, TIMERS, { inviteLifetimeMs: 90_000 });
    layer.user = { onRequest: () => undefined, onAck: () => undefined };
    layer.receive(fresh('OPTIONS', 1), SOURCE);
    layer.receive(fresh('INVITE', 2), SOURCE);
    vi.advanceTimersByTime(128 * 500 + 10_000); // past the non-INVITE lifetime (and its sweep)
    expect(layer.size.servers).toBe(1); // the INVITE may still be ringing
    vi.advanceTimersByTime(90_000);
    expect(layer.size.servers).toBe(0);
    expect(layer.stats.expired).toBe(2);
    layer.close();
  });

  it('sends a failure once and keeps nothing when the user answers statelessly', () => {
    const transport = new RecordingTransport();
    const layer = new TransactionLayer(transport, TIMERS);
    layer.user = {
      onRequest: (t) => {
        t.stateless = true;
        t.respond(createResponse(t.request, 407, t.isInvite ? { toTag: t.localTag } : {}));
      },
      onAck: () => undefined,
    };
    layer.receive(fresh('INVITE', 1), SOURCE);
    layer.receive(fresh('REGISTER', 2), SOURCE);
    expect(layer.size.servers).toBe(0);
    vi.advanceTimersByTime(64 * 500);
    expect(transport.sent.map((s) => (s.message as SipResponse).status)).toEqual([407, 407]); // no Timer G
    layer.close();
  });
});
