import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../phone/api.ts';
import type { PhoneController } from '../phone/controller.ts';
import type { CallView, CrmMatch } from '../phone/model.ts';
import { initials, timeAgo } from './format.ts';

const TYPE_LABEL: Record<string, string> = { contact: 'Contact', lead: 'Lead', account: 'Account' };

/** The avatar circle: initials of the name, a tint per person. */
export function Avatar({ name, size = 'md' }: { name: string; size?: 'sm' | 'md' }) {
  let hue = 0;
  for (const ch of name) hue = (hue * 31 + ch.charCodeAt(0)) % 360;
  return (
    <span class={`sp-avatar sp-avatar-${size}`} style={{ '--sp-hue': String(hue) }} aria-hidden="true">
      {initials(name)}
    </span>
  );
}

/** One record: title and account, the last activity, and Open record. */
export function RecordDetails({ match }: { match: CrmMatch }) {
  const sub = [match.title, match.account].filter(Boolean).join(' · ');
  return (
    <ul class="sp-crm" aria-label="CRM records for this number">
      <li class="sp-crm-record">
        <span class="sp-crm-name">
          <a href={match.url}>{match.name}</a>
          <span class="sp-badge">{TYPE_LABEL[match.type] ?? match.type}</span>
        </span>
        {sub && <span class="sp-crm-sub">{sub}</span>}
        {match.last_activity && (
          <span class="sp-crm-last">
            Last activity: {match.last_activity.subject} <span class="muted">· {timeAgo(match.last_activity.at)}</span>
          </span>
        )}
        <a class="sp-open-record" href={match.url}>
          Open record
        </a>
      </li>
    </ul>
  );
}

/** Several records share the number: the person says which one this call is about. */
function Picker({ controller, call, matches, chosen }: { controller: PhoneController; call: CallView; matches: CrmMatch[]; chosen: string | null }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const pick = async (m: CrmMatch) => {
    if (!call.serverCallId || busy || m.id === chosen) return;
    setBusy(m.id);
    setError(null);
    try {
      await api('POST', `/calls/${encodeURIComponent(call.serverCallId)}/link`, { record_type: m.type, record_id: m.id });
      controller.execute({ type: 'choose-record', callId: call.serverCallId, record: m });
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(null);
    }
  };
  // The click shows at once; the server's answer confirms it (or an error puts it back).
  const shown = busy ?? chosen;
  return (
    <fieldset class="sp-picker">
      <legend>
        {matches.length} records share this number{chosen ? '' : ': which one is calling?'}
      </legend>
      <div role="radiogroup" aria-label="Which record is this call about?">
        {matches.map((m) => (
          <label key={m.id} class={`sp-pick ${m.id === shown ? 'sp-picked' : ''}`}>
            <input type="radio" name={`sp-pick-${call.id}`} checked={m.id === shown} disabled={busy !== null} onChange={() => void pick(m)} />
            <Avatar name={m.name} size="sm" />
            <span class="sp-pick-text">
              <span class="sp-pick-name">{m.name}</span>
              <span class="sp-pick-sub">{[m.title, m.account].filter(Boolean).join(' · ') || TYPE_LABEL[m.type]}</span>
            </span>
          </label>
        ))}
      </div>
      {error && (
        <p class="sp-form-error" role="alert">
          {error}
        </p>
      )}
    </fieldset>
  );
}

interface AccountOption {
  id: string;
  name: string;
}

/** Add contact: a small form with the number filled in; Save creates it and links the call. */
function AddContact({ controller, call, onClose }: { controller: PhoneController; call: CallView; onClose: () => void }) {
  const [first, setFirst] = useState('');
  const [last, setLast] = useState('');
  const [account, setAccount] = useState('');
  const [accounts, setAccounts] = useState<AccountOption[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const inFlight = useRef(false);
  const firstField = useRef<HTMLInputElement>(null);
  const listId = `sp-accounts-${call.id}`;

  useEffect(() => firstField.current?.focus(), []);
  useEffect(() => {
    const q = account.trim();
    if (q.length < 2) return;
    const timer = setTimeout(() => {
      void api<{ data: AccountOption[] }>('GET', `/accounts?limit=8&q=${encodeURIComponent(q)}`)
        .then((r) => setAccounts(r.data.map((a) => ({ id: a.id, name: a.name }))))
        .catch(() => undefined);
    }, 200);
    return () => clearTimeout(timer);
  }, [account]);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (inFlight.current || !call.serverCallId) return; // a double click saves once
    if (!first.trim() || !last.trim()) {
      setError('Enter a first and a last name');
      return;
    }
    const accountName = account.trim();
    const accountId = accountName ? accounts.find((a) => a.name.toLowerCase() === accountName.toLowerCase())?.id : undefined;
    if (accountName && !accountId) {
      setError('Pick an account from the list, or leave it empty');
      return;
    }
    inFlight.current = true;
    setSaving(true);
    setError(null);
    try {
      const c = await api<{ id: string; name: string; title: string | null; account_name: string | null }>('POST', `/calls/${encodeURIComponent(call.serverCallId)}/contact`, {
        first_name: first.trim(),
        last_name: last.trim(),
        ...(accountId ? { account_id: accountId } : {}),
      });
      controller.execute({
        type: 'choose-record',
        callId: call.serverCallId,
        record: { type: 'contact', id: c.id, name: c.name, title: c.title, account: c.account_name, url: `/contacts/${c.id}`, last_activity: null },
      });
      onClose();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      inFlight.current = false;
      setSaving(false);
    }
  };

  return (
    <form class="sp-add-contact" aria-label="Add contact" onSubmit={(e) => void submit(e)}>
      <p class="sp-add-number">
        <span class="muted">Phone</span> {call.crm?.numberDisplay ?? call.remote.number}
      </p>
      <div class="sp-row">
        <div class="sp-field">
          <label for={`sp-first-${call.id}`}>First name</label>
          <input id={`sp-first-${call.id}`} ref={firstField} value={first} maxLength={100} autoComplete="off" onInput={(e) => setFirst(e.currentTarget.value)} />
        </div>
        <div class="sp-field">
          <label for={`sp-last-${call.id}`}>Last name</label>
          <input id={`sp-last-${call.id}`} value={last} maxLength={100} autoComplete="off" onInput={(e) => setLast(e.currentTarget.value)} />
        </div>
      </div>
      <div class="sp-field">
        <label for={`sp-account-${call.id}`}>
          Account <span class="muted">(optional)</span>
        </label>
        <input id={`sp-account-${call.id}`} list={listId} value={account} autoComplete="off" placeholder="Search accounts" onInput={(e) => setAccount(e.currentTarget.value)} />
        <datalist id={listId}>
          {accounts.map((a) => (
            <option key={a.id} value={a.name} />
          ))}
        </datalist>
      </div>
      {error && (
        <p class="sp-form-error" role="alert">
          {error}
        </p>
      )}
      <div class="sp-buttons">
        <button type="submit" class="primary" disabled={saving}>
          {saving ? 'Saving…' : 'Save'}
        </button>
        <button type="button" onClick={onClose} disabled={saving}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** How long the card waits for the screen pop before it stops saying it is looking. */
const LOOKUP_WAIT_MS = 3000;

/** True once the call has waited LOOKUP_WAIT_MS (from its start) for a screen pop that has not come. */
function useLookupOverdue(call: CallView, waiting: boolean): boolean {
  const [overdue, setOverdue] = useState<string | null>(null);
  useEffect(() => {
    if (!waiting) return;
    const left = LOOKUP_WAIT_MS - (Date.now() - call.startedAt);
    if (left <= 0) {
      setOverdue(call.id);
      return;
    }
    const timer = setTimeout(() => setOverdue(call.id), left);
    return () => clearTimeout(timer);
  }, [call.id, waiting]);
  return overdue === call.id;
}

/** What the CRM knows about the other party: the record, a picker, or Add contact. */
export function CrmSection({ controller, call }: { controller: PhoneController; call: CallView }) {
  const [adding, setAdding] = useState(false);
  const card = call.crm;
  const late = useLookupOverdue(call, card === null && call.record === null);
  if (!card) {
    if (call.record) return null;
    // The screen pop did not come (the CRM is slow or down, the message was lost): the number it
    // is, rather than a lookup that never ends. A late pop still replaces this.
    if (late || call.phase === 'active') {
      return (
        <p class="sp-crm sp-crm-unknown small muted" title="The CRM lookup did not answer in time">
          No CRM details for this number
        </p>
      );
    }
    return (
      <p class="sp-crm-pending small muted" aria-hidden="true">
        Looking up the CRM…
      </p>
    );
  }
  const chosen = card.matches.find((m) => m.id === card.chosen) ?? null;
  // A colleague, unless the call was dialled from a record (a customer's number that rings a user).
  if (card.colleague && !chosen) return <p class="sp-crm small muted">Colleague</p>;
  if (card.matches.length === 0) {
    if (!card.number || !call.serverCallId) return <p class="sp-crm small muted">Not in the CRM</p>;
    return adding ? (
      <AddContact controller={controller} call={call} onClose={() => setAdding(false)} />
    ) : (
      <div class="sp-crm-none">
        <span class="small muted">Not in the CRM</span>
        <button type="button" class="sp-add" onClick={() => setAdding(true)}>
          Add contact
        </button>
      </div>
    );
  }
  return (
    <>
      {chosen && <RecordDetails match={chosen} />}
      {card.matches.length > 1 && <Picker controller={controller} call={call} matches={card.matches} chosen={card.chosen} />}
    </>
  );
}
