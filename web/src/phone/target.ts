/**
 * What a person types in the Number field, as a SIP URI: a phone number in any format
 * (`(415) 555-0134`, `+44 20 7946 0321`, `0044…`), an extension (`1002`), a user name (`bob`) or a
 * SIP address (`bob@example.com`, `sip:bob@example.com`). The server does the real routing
 * (E.164, extensions, trunks); this only makes a valid request URI and strips what people add
 * for readability.
 */

export interface DialTarget {
  uri: string;
  /** What to show while calling. */
  display: string;
  /** Digits to send as DTMF once answered (`415 555 0134 x204`). */
  extension: string | null;
}

const VISUAL_SEPARATORS = /[\s().\-/\u00a0]/g;

export function parseTarget(input: string, domain: string): DialTarget | null {
  const text = input.trim();
  if (!text) return null;

  if (/^sips?:/i.test(text) || text.includes('@')) {
    const uri = /^sips?:/i.test(text) ? text : `sip:${text}`;
    // user@host with no spaces or angle brackets: anything else is not an address we can call.
    if (!/^sips?:[^\s<>@"]+@[A-Za-z0-9.\-[\]:]+(;[^\s<>"]*)?$/i.test(uri)) return null;
    return { uri, display: uri.replace(/^sips?:/i, ''), extension: null };
  }

  let extension: string | null = null;
  let number = text;
  const ext = /^(.*?)\s*(?:x|ext\.?|extension)\s*(\d{1,8})$/i.exec(text);
  if (ext && /\d/.test(ext[1]!)) {
    number = ext[1]!;
    extension = ext[2]!;
  }

  const compact = number.replace(VISUAL_SEPARATORS, '');
  if (/^\+?[\d*#]+$/.test(compact)) {
    // '#' must be escaped in a URI user part; '*' may stay.
    return { uri: `sip:${compact.replace(/#/g, '%23')}@${domain}`, display: number.trim(), extension };
  }
  // A user name (letters, digits and the few marks SIP allows unescaped).
  if (/^[A-Za-z0-9_.!~*'&=+$,;?-]+$/.test(compact) && compact === number) {
    return { uri: `sip:${compact}@${domain}`, display: compact, extension: null };
  }
  return null;
}
