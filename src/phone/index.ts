/**
 * Phone numbers: normalisation to E.164 (libphonenumber-js, full metadata) and the phone index
 * (E.164 → record) that screen pop and the Salesforce mirror answer from.
 *
 * Two keys per stored number:
 * - `e164`, when the text is a valid number (in the default region when it has no country code);
 * - `tail`, the last N national digits, only for numbers *written without a country code*: such a
 *   number may really be foreign (a German "030 1234567" typed into a US-default CRM), so a call
 *   from +49 30 1234567 should still find it — ranked after exact matches. Numbers written with
 *   `+` or an international prefix never get a tail: their E.164 is authoritative.
 */
import { parsePhoneNumberFromString, type CountryCode, type PhoneNumber } from 'libphonenumber-js/max';
import type { Kysely, Transaction } from 'kysely';
import type { Database, RecordType } from '../store/index.ts';

export interface NormalizedPhone {
  /** The text as typed. */
  raw: string;
  /** E.164 (`+14155550134`), or null when the text is not a valid number. */
  e164: string | null;
  /** Extension (`204` from `x204`), dialled after the call connects. */
  ext: string | null;
  /** For people: `+1 415 555 0134`, or the raw text when invalid. */
  display: string;
  /** Last-N-digits key, only for numbers written without a country code. */
  tail: string | null;
}

export interface PhoneOptions {
  defaultRegion: CountryCode;
  /** How many trailing digits the fallback compares (PHONE_MATCH_DIGITS). */
  matchDigits: number;
}

const EXPLICIT_INTERNATIONAL = /^\s*(\+|00|011)/;
const EXTENSION = /\s*(?:;?ext\.?=?|extension|x|#)\s*(\d{1,7})\s*$/i;

export class PhoneNumbers {
  constructor(readonly options: PhoneOptions) {}

  normalize(raw: string): NormalizedPhone {
    const text = raw.trim();
    const explicit = EXPLICIT_INTERNATIONAL.test(text);
    // "00 49 …" / "011 49 …" are international prefixes that libphonenumber reads only from their own region.
    const candidate = text.replace(/^\s*(00|011)(?=[\s\d])/, '+');
    let parsed: PhoneNumber | undefined;
    try {
      parsed = parsePhoneNumberFromString(candidate, { defaultCountry: this.options.defaultRegion, extract: false });
    } catch {
      parsed = undefined;
    }
    const extMatch = EXTENSION.exec(text);
    const ext = parsed?.ext ?? extMatch?.[1] ?? null;
    if (parsed && parsed.isValid()) {
      const national = String(parsed.nationalNumber);
      return {
        raw,
        e164: parsed.number,
        ext,
        display: parsed.formatInternational(),
        tail: explicit ? null : this.tailOf(national),
      };
    }
    const digits = (extMatch ? text.slice(0, extMatch.index) : text).replace(/\D/g, '');
    return { raw, e164: null, ext, display: text, tail: explicit ? null : this.tailOf(digits) };
  }

  /** The keys to look a dialled or calling number up by. */
  queryKeys(input: string): { e164: string | null; tail: string | null } {
    const n = this.normalize(input);
    if (n.e164) {
      const parsed = parsePhoneNumberFromString(n.e164);
      return { e164: n.e164, tail: this.tailOf(String(parsed?.nationalNumber ?? '')) };
    }
    const digits = input.replace(EXTENSION, '').replace(/\D/g, '');
    return { e164: null, tail: this.tailOf(digits) };
  }

  /** Formats a number for people; returns the input when it is not a valid number. */
  display(raw: string): string {
    return this.normalize(raw).display;
  }

  private tailOf(digits: string): string | null {
    return digits.length >= this.options.matchDigits ? digits.slice(-this.options.matchDigits) : null;
  }
}

export interface PhoneMatch {
  recordType: RecordType;
  recordId: string;
  field: string;
  raw: string;
  e164: string | null;
  /** `exact`: same E.164; `suffix`: same last N digits of a number stored without country code. */
  match: 'exact' | 'suffix';
}

const TYPE_RANK: Record<RecordType, number> = { contact: 0, lead: 1, account: 2 };

type Db = Kysely<Database> | Transaction<Database>;

/** The phone index table: write it inside the record's transaction, read it for caller match. */
export class PhoneIndex {
  constructor(readonly numbers: PhoneNumbers) {}

  /** Replaces the index rows of one record with its current phone fields (empty fields are dropped). */
  async write(trx: Db, recordType: RecordType, recordId: string, fields: Record<string, string | null | undefined>): Promise<void> {
    await this.remove(trx, recordType, recordId);
    const rows = Object.entries(fields)
      .filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].trim() !== '')
      .map(([field, raw]) => {
        const n = this.numbers.normalize(raw);
        return { record_type: recordType, record_id: recordId, field, raw, e164: n.e164, tail: n.tail };
      })
      .filter((r) => r.e164 !== null || r.tail !== null);
    if (rows.length > 0) await trx.insertInto('phone_index').values(rows).execute();
  }

  async remove(trx: Db, recordType: RecordType, recordId: string): Promise<void> {
    await trx.deleteFrom('phone_index').where('record_type', '=', recordType).where('record_id', '=', recordId).execute();
  }

  /**
   * All records with this number, in any format: exact E.164 matches first, then records whose
   * number was stored without a country code and ends in the same digits. One entry per record.
   */
  async lookupByNumber(db: Db, input: string, limit = 50): Promise<PhoneMatch[]> {
    const keys = this.numbers.queryKeys(input);
    const out: PhoneMatch[] = [];
    const seen = new Set<string>();
    const add = (rows: { record_type: RecordType; record_id: string; field: string; raw: string; e164: string | null }[], match: PhoneMatch['match']) => {
      rows.sort((a, b) => TYPE_RANK[a.record_type] - TYPE_RANK[b.record_type] || a.field.localeCompare(b.field));
      for (const r of rows) {
        const key = `${r.record_type}:${r.record_id}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ recordType: r.record_type, recordId: r.record_id, field: r.field, raw: r.raw, e164: r.e164, match });
      }
    };
    const columns = ['record_type', 'record_id', 'field', 'raw', 'e164'] as const;
    if (keys.e164) {
      add(await db.selectFrom('phone_index').select(columns).where('e164', '=', keys.e164).limit(limit).execute(), 'exact');
    }
    if (keys.tail && out.length < limit) {
      const rows = await db.selectFrom('phone_index').select(columns).where('tail', '=', keys.tail).limit(limit).execute();
      add(rows.filter((r) => !keys.e164 || r.e164 !== keys.e164), 'suffix');
    }
    return out.slice(0, limit);
  }
}
