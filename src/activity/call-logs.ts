/**
 * From a finished call to the CRM's view of it: exactly one call log per user who took part —
 * the caller (if a user) and every user it rang — however many devices each one's branches
 * reached. Each says what the call was *for that user*: answered, answered elsewhere (by whom),
 * missed, busy, declined, cancelled, failed or interrupted.
 */
import type { CallDisposition, CallLog, CallQuality, RecordRef } from '../crm/index.ts';
import type { CallParty, CallRecord } from '../store/index.ts';

export interface PartyMatch {
  type: RecordRef['type'];
  id: string;
  name?: string;
}

/** The disposition of a call that ended without being answered, from its cause. */
function unansweredDisposition(cause: string | null): CallDisposition {
  switch (cause) {
    case 'busy':
      return 'busy';
    case 'declined':
      return 'declined';
    case 'cancelled':
      return 'cancelled';
    case 'interrupted':
      return 'interrupted';
    case 'no-answer':
    case 'unavailable':
      return 'no-answer';
    default:
      return 'failed';
  }
}

/** How a device is named on a timeline: "the browser", "the desk phone (baresip)". */
export function deviceLabel(device: string | null): string | null {
  if (!device) return null;
  if (device === 'Browser') return 'the browser';
  if (device.startsWith('trunk ')) return device;
  const product = device.replace(/\s*\((UDP|TCP|TLS)\)$/, '');
  return `the desk phone (${product})`;
}

function parseJson<T>(text: string | null): T | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

/**
 * The record a user's log attaches to: the one chosen (click-to-dial context, picker, Add
 * contact), else the best screen-pop match, else none ("unmatched", with the number).
 */
function recordOf(party: CallParty): RecordRef | null {
  if (party.record_type && party.record_id) return { type: party.record_type, id: party.record_id };
  const matches = parseJson<PartyMatch[]>(party.matches);
  const best = matches?.[0];
  return best ? { type: best.type, id: best.id } : null;
}

export function buildCallLogs(call: CallRecord, parties: CallParty[], userName: (userId: string) => string | undefined): CallLog[] {
  const endedAt = call.ended_at ?? call.updated_at ?? call.started_at;
  return parties.map((party): CallLog => {
    const inbound = party.role === 'callee';
    const answered = call.answered_at !== null;
    let disposition: CallDisposition;
    let answeredDevice: string | null = null;
    let answeredElsewhereBy: string | null = null;
    if (!answered) {
      disposition = unansweredDisposition(call.cause);
      // A caller who gave up hears nothing else: for them it is "cancelled", for the callee "missed".
      if (inbound && disposition === 'cancelled') disposition = 'no-answer';
    } else if (!inbound || call.answered_user_id === party.user_id || call.answered_user_id === null) {
      disposition = call.cause === 'interrupted' ? 'interrupted' : 'answered';
      answeredDevice = inbound ? deviceLabel(call.answered_device) : null;
    } else {
      disposition = 'answered-elsewhere';
      answeredElsewhereBy = (call.answered_user_id && userName(call.answered_user_id)) ?? null;
    }
    const counterpart = inbound
      ? { number: call.from_number, display: call.from_display }
      : { number: call.to_number, display: null };
    const answeredHere = disposition === 'answered' || disposition === 'interrupted';
    return {
      key: `call:${call.id}:${party.user_id}`,
      userId: party.user_id,
      direction: inbound ? 'inbound' : 'outbound',
      counterpart,
      record: recordOf(party),
      startedAt: call.started_at,
      answeredAt: call.answered_at,
      endedAt,
      durationS: answeredHere ? Math.max(0, call.duration_s ?? 0) : 0,
      disposition,
      answeredDevice,
      answeredElsewhereBy,
      quality: parseJson<CallQuality>(party.quality),
      notes: party.notes,
      video: Number(call.video) === 1,
    };
  });
}

/**
 * Estimated MOS from one-way latency, jitter and loss: the simplified E-model used by VoIP
 * monitors (ITU-T G.107 with the G.711 defaults).
 */
export function estimateMos(q: { rttMs: number | null; jitterMs: number | null; lossPct: number | null }): number | null {
  if (q.rttMs === null && q.jitterMs === null && q.lossPct === null) return null;
  const effectiveLatency = (q.rttMs ?? 0) / 2 + 2 * (q.jitterMs ?? 0) + 10;
  let r = effectiveLatency < 160 ? 93.2 - effectiveLatency / 40 : 93.2 - (effectiveLatency - 120) / 10;
  r -= 2.5 * (q.lossPct ?? 0);
  r = Math.max(0, Math.min(100, r));
  const mos = 1 + 0.035 * r + 0.000007 * r * (r - 60) * (100 - r);
  return Math.round(Math.max(1, Math.min(4.5, mos)) * 100) / 100;
}
