/**
 * The few Open CTI for Lightning methods the softphone uses (contract §7), typed, each as a
 * promise. The org's script (`/support/api/{v}/lightning/opencti_min.js`) defines
 * `window.sforce.opencti`; every method takes one object and answers a callback with
 * `{success, returnValue, errors}`.
 */

export interface OpenCtiResponse<T = unknown> {
  success: boolean;
  returnValue: T | null;
  errors: unknown[] | null;
}

/** `onClickToDial`'s payload: `number` is the phone text as shown on the record. */
export interface ClickToDialPayload {
  number: string | number;
  recordId?: string;
  recordName?: string;
  objectType?: string;
  accountId?: string;
  contactId?: string;
  personAccount?: boolean;
  params?: string;
}

type Callback<T> = (r: OpenCtiResponse<T>) => void;

export interface OpenCti {
  SCREENPOP_TYPE: { SOBJECT: string; URL: string; SEARCH: string; NEW_RECORD_MODAL: string; [k: string]: string };
  CALL_TYPE: { INBOUND: string; OUTBOUND: string; INTERNAL: string };
  enableClickToDial(a: { callback?: Callback<null> }): void;
  disableClickToDial(a: { callback?: Callback<null> }): void;
  onClickToDial(a: { listener: (payload: ClickToDialPayload) => void }): void;
  screenPop(a: { type: string; params: Record<string, unknown>; callback?: Callback<null> }): void;
  searchAndScreenPop(a: { searchParams: string; queryParams?: string; params?: Record<string, unknown>; defaultFieldValues?: Record<string, unknown>; callType: string; deferred?: boolean; callback?: Callback<Record<string, unknown>> }): void;
  refreshView(a: { callback?: Callback<null> }): void;
  setSoftphonePanelVisibility(a: { visible: boolean; callback?: Callback<null> }): void;
  setSoftphonePanelHeight(a: { heightPX: number; callback?: Callback<null> }): void;
  notifyInitializationComplete?(): void;
}

declare global {
  interface Window {
    sforce?: { opencti?: OpenCti };
  }
}

/** Loads the org's Open CTI script from `origin`; resolves with `sforce.opencti`, or null. */
export function loadOpenCti(origin: string, apiVersion: string, timeoutMs = 15_000): Promise<OpenCti | null> {
  if (window.sforce?.opencti) return Promise.resolve(window.sforce.opencti);
  return new Promise((resolve) => {
    const script = document.createElement('script');
    script.src = `${origin}/support/api/${apiVersion}/lightning/opencti_min.js`;
    const timer = setTimeout(() => resolve(null), timeoutMs);
    script.onload = () => {
      clearTimeout(timer);
      resolve(window.sforce?.opencti ?? null);
    };
    script.onerror = () => {
      clearTimeout(timer);
      resolve(null);
    };
    document.head.append(script);
  });
}

/** One Open CTI call as a promise (errors logged, never thrown: Salesforce is the page's host, not ours). */
export function call<T>(fn: (cb: Callback<T>) => void, what: string): Promise<OpenCtiResponse<T>> {
  return new Promise((resolve) => {
    try {
      fn((r) => {
        if (!r?.success) console.warn(`Open CTI ${what} failed`, JSON.stringify(r?.errors ?? null));
        resolve(r ?? { success: false, returnValue: null, errors: ['no response'] });
      });
    } catch (err) {
      console.warn(`Open CTI ${what} threw`, err);
      resolve({ success: false, returnValue: null, errors: [String(err)] });
    }
  });
}
