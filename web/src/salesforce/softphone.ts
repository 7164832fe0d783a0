/**
 * The widget as Salesforce's softphone: click-to-dial places the call with the record's context;
 * an incoming call pops the matched record (`screenPop`), or a search when the caller is unknown
 * or several records match (`searchAndScreenPop`); after a call the view is refreshed so the Task
 * Ringside logged shows; the panel opens for calls and follows the widget's height.
 */
import type { PhoneController } from '../phone/controller.ts';
import type { CallView, PhoneState, RecordRef } from '../phone/model.ts';
import { call, type ClickToDialPayload, type OpenCti } from './opencti.ts';

/** Salesforce record Ids (15 or 18 characters) and the Ringside record type of their key prefix. */
const PREFIX_TYPE: Record<string, string> = { '003': 'contact', '00Q': 'lead', '001': 'account' };
const OBJECT_TYPE: Record<string, string> = { Contact: 'contact', Lead: 'lead', Account: 'account' };

export function isSalesforceId(id: string): boolean {
  return /^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/.test(id);
}

/** What click-to-dial tells the call: the record it was placed from. */
export function recordOf(payload: ClickToDialPayload): RecordRef | null {
  const id = payload.recordId;
  if (!id || !isSalesforceId(id)) return null;
  const type = (payload.objectType && OBJECT_TYPE[payload.objectType]) ?? PREFIX_TYPE[id.slice(0, 3)];
  return type ? { type, id, name: payload.recordName ?? '' } : null;
}

/** Seconds to wait for the server's caller match before popping a search anyway. */
const MATCH_WAIT_MS = 2500;
/** Refreshes after a call: at once, and when the outbox has delivered the Task (batch window + request). */
const REFRESH_AFTER_MS = [0, 4000, 12000];
const MIN_HEIGHT = 240;
const MAX_HEIGHT = 760;

export class SalesforceSoftphone {
  private readonly popped = new Map<string, string>();
  private lastCall: CallView | null = null;
  private matchTimer: ReturnType<typeof setTimeout> | undefined;
  private unsubscribe: (() => void) | undefined;
  private resize: ResizeObserver | undefined;
  private lastHeight = 0;

  constructor(
    private readonly cti: OpenCti,
    private readonly controller: PhoneController,
  ) {}

  start(panel: HTMLElement): void {
    void call<null>((callback) => this.cti.enableClickToDial({ callback }), 'enableClickToDial');
    this.cti.onClickToDial({ listener: (payload) => this.onClickToDial(payload) });
    this.unsubscribe = this.controller.subscribe(() => this.onState(this.controller.state));
    this.resize = new ResizeObserver(() => this.fitHeight(panel));
    this.resize.observe(panel);
    this.cti.notifyInitializationComplete?.();
  }

  stop(): void {
    this.unsubscribe?.();
    this.resize?.disconnect();
    if (this.matchTimer) clearTimeout(this.matchTimer);
    void call<null>((callback) => this.cti.disableClickToDial({ callback }), 'disableClickToDial');
  }

  private show(): void {
    void call<null>((callback) => this.cti.setSoftphonePanelVisibility({ visible: true, callback }), 'setSoftphonePanelVisibility');
  }

  private onClickToDial(payload: ClickToDialPayload): void {
    const number = String(payload.number ?? '').trim();
    if (!number) return;
    this.show();
    this.controller.execute({ type: 'call', target: number, record: recordOf(payload) });
  }

  private onState(state: PhoneState): void {
    const c = state.call;
    if (c && c.direction === 'incoming' && !this.popped.has(c.id)) this.onIncoming(c);
    if (c && this.popped.has(c.id)) {
      // The person picked one of several records (or added one): show that one.
      const chosen = c.crm?.chosen;
      if (chosen && this.popped.get(c.id) !== chosen && isSalesforceId(chosen)) this.pop(c.id, chosen);
    }
    if (this.lastCall && (!c || c.id !== this.lastCall.id)) this.onEnded();
    this.lastCall = c;
  }

  private onIncoming(c: CallView): void {
    this.popped.set(c.id, '');
    this.show();
    if (c.crm) return this.popFor(c);
    // The server's match arrives just after the ring; don't wait for it forever.
    if (this.matchTimer) clearTimeout(this.matchTimer);
    const waitFor = (left: number) => {
      this.matchTimer = setTimeout(() => {
        const now = this.controller.state.call;
        if (!now || now.id !== c.id) return;
        if (now.crm || left <= 0) this.popFor(now);
        else waitFor(left - 100);
      }, 100);
    };
    waitFor(MATCH_WAIT_MS);
  }

  private popFor(c: CallView): void {
    const matches = c.crm?.matches ?? [];
    const one = matches.length === 1 ? matches[0]! : null;
    if (one && isSalesforceId(one.id)) return this.pop(c.id, one.id);
    // Unknown or several: Salesforce searches the number by the softphone layout's rules.
    const number = c.crm?.number ?? c.remote.number;
    this.popped.set(c.id, 'search');
    void call((callback) => this.cti.searchAndScreenPop({ searchParams: number, callType: this.cti.CALL_TYPE.INBOUND, deferred: false, callback }), 'searchAndScreenPop');
  }

  private pop(callId: string, recordId: string): void {
    this.popped.set(callId, recordId);
    void call<null>((callback) => this.cti.screenPop({ type: this.cti.SCREENPOP_TYPE.SOBJECT, params: { recordId }, callback }), 'screenPop');
  }

  private onEnded(): void {
    for (const ms of REFRESH_AFTER_MS) setTimeout(() => void call<null>((callback) => this.cti.refreshView({ callback }), 'refreshView'), ms);
  }

  private fitHeight(panel: HTMLElement): void {
    const height = Math.max(MIN_HEIGHT, Math.min(MAX_HEIGHT, Math.ceil(panel.scrollHeight + 16)));
    if (Math.abs(height - this.lastHeight) < 8) return;
    this.lastHeight = height;
    void call<null>((callback) => this.cti.setSoftphonePanelHeight({ heightPX: height, callback }), 'setSoftphonePanelHeight');
  }
}
