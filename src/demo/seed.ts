/**
 * The demo organisation seeded into an empty database: three users and a small CRM whose phone
 * fields look like real-world data — every format people type, extensions, empty and invalid
 * values, and two contacts sharing one number. Deterministic, so docs and tests can name records.
 *
 * Numbers are from ranges reserved for fiction (NANP 555-0100…0199, Ofcom's 020 7946 0xxx).
 */
import type { BuiltinCrm } from '../crm/index.ts';
import { newId, nowIso, type Store } from '../store/index.ts';
import type { UserDirectory } from '../users/index.ts';
import { prng } from '../shared/prng.ts';

export const DEMO_USERS = [
  { email: 'alice@example.com', name: 'Alice Adams', role: 'user', extension: '1001', sip_username: 'alice' },
  { email: 'bob@example.com', name: 'Bob Brown', role: 'user', extension: '1002', sip_username: 'bob' },
  { email: 'admin@example.com', name: 'Ada Admin', role: 'admin', extension: null, sip_username: 'admin' },
] as const;

/** Records the docs and tests refer to by name. */
export const DEMO_FIXED = {
  jane: { first_name: 'Jane', last_name: 'Doe', email: 'jane@acme.com', phone_work: '(415) 555-0134', phone_mobile: '+1 415 555 0101' },
  sharedNumber: '+1 303 555 0199',
};

const ACCOUNTS: [name: string, industry: string, city: string, country: string, website: string][] = [
  ['Acme Corp', 'Manufacturing', 'San Francisco', 'US', 'acme.com'],
  ['Globex', 'Energy', 'Springfield', 'US', 'globex.example'],
  ['Initech', 'Software', 'Austin', 'US', 'initech.example'],
  ['Umbrella Health', 'Healthcare', 'Chicago', 'US', 'umbrella.example'],
  ['Hooli', 'Internet', 'Palo Alto', 'US', 'hooli.example'],
  ['Stark Logistics', 'Logistics', 'New York', 'US', 'stark.example'],
  ['Wayne Foods', 'Food & Beverage', 'Boston', 'US', 'waynefoods.example'],
  ['Cyberdyne Systems', 'Robotics', 'Seattle', 'US', 'cyberdyne.example'],
  ['Soylent Partners', 'Consulting', 'Denver', 'US', 'soylent.example'],
  ['Vandelay Industries', 'Import/Export', 'New York', 'US', 'vandelay.example'],
  ['Tyrell Ltd', 'Biotech', 'London', 'GB', 'tyrell.example'],
  ['Wonka Confectionery', 'Food & Beverage', 'Manchester', 'GB', 'wonka.example'],
  ['Oceanic Airlines', 'Travel', 'Sydney', 'AU', 'oceanic.example'],
  ['Massive Dynamic', 'Research', 'Cambridge', 'US', 'massive.example'],
  ['Nakatomi Trading', 'Finance', 'Los Angeles', 'US', 'nakatomi.example'],
  ['Gringotts Bank', 'Banking', 'Edinburgh', 'GB', 'gringotts.example'],
  ['Blue Sun GmbH', 'Retail', 'Berlin', 'DE', 'bluesun.example'],
  ['Pied Piper', 'Software', 'Palo Alto', 'US', 'piedpiper.example'],
  ['Dunder Mifflin', 'Paper', 'Scranton', 'US', 'dundermifflin.example'],
  ['Prestige Worldwide', 'Events', 'Phoenix', 'US', 'prestige.example'],
];

const FIRST = ['James', 'Maria', 'Wei', 'Fatima', 'Liam', 'Olivia', 'Noah', 'Emma', 'Ahmed', 'Sofia', 'Lucas', 'Mia', 'Raj',
  'Chloe', 'Ethan', 'Yuki', 'Mateo', 'Amara', 'Oliver', 'Zoe', 'Hugo', 'Ines', 'Kofi', 'Lena', 'Diego'];
const LAST = ['Smith', 'Garcia', 'Chen', 'Khan', 'Murphy', 'Rossi', 'Kim', 'Novak', 'Silva', 'Müller', "O'Brien", 'Dubois',
  'Patel', 'Nguyen', 'Kowalski', 'Haddad', 'Larsen', 'Okafor', 'Tanaka', 'Fischer'];
const TITLES = ['VP Sales', 'CFO', 'Head of IT', 'Procurement Manager', 'Office Manager', 'CEO', 'Operations Lead', null, 'Buyer', 'CTO'];
const AREAS = ['415', '650', '212', '312', '617', '206', '512', '303'];


/** A US number from the fictional 555-01xx range, written the way people write numbers. */
export function usNumberIn(format: number, area: string, line: string): string {
  const [a, b, c] = [area, '555', `01${line}`];
  switch (format % 10) {
    case 0: return `(${a}) ${b}-${c}`;
    case 1: return `${a}.${b}.${c}`;
    case 2: return `${a}-${b}-${c}`;
    case 3: return `+1 ${a} ${b} ${c}`;
    case 4: return `+1-${a}-${b}-${c}`;
    case 5: return `${a}${b}${c}`;
    case 6: return `1 (${a}) ${b}-${c}`;
    case 7: return `${a} ${b} ${c} x${200 + (Number(line) % 50)}`;
    case 8: return `+1${a}${b}${c}`;
    default: return `${a}/${b}-${c}`;
  }
}

const INVALID = ['555-01', 'n/a', 'ask reception', '12345'];
const INTERNATIONAL = (n: number): string =>
  [`+44 20 7946 0${String(100 + n).slice(-3)}`, `0044 20 7946 0${String(300 + n).slice(-3)}`, `+49 30 ${1234500 + n}`, `+33 1 42 68 ${String(10 + (n % 90)).padStart(2, '0')} ${String(10 + n % 80).padStart(2, '0')}`][n % 4]!;

export interface SeedResult {
  users: number;
  accounts: number;
  contacts: number;
  leads: number;
}

/** Seeds the demo organisation (its users keep `password` as their device password too, so the README's desk-phone steps work). Call only on an empty database, and only as `demoSeeding` allows. */
export async function seedDemo(deps: { store: Store; users: UserDirectory; crm: BuiltinCrm; password: string }): Promise<SeedResult> {
  const { users, crm, password } = deps;
  const userIds: string[] = [];
  for (const u of DEMO_USERS) {
    const created = await users.create({
      email: u.email,
      name: u.name,
      role: u.role,
      extension: u.extension,
      password,
      sip_username: u.sip_username,
      device_password: password,
      time_zone: 'America/Los_Angeles',
    });
    userIds.push(created.id);
  }
  const [aliceId, bobId] = userIds as [string, string, string];
  const rand = prng(20141);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;

  const accountIds: string[] = [];
  for (let i = 0; i < ACCOUNTS.length; i++) {
    const [name, industry, city, country, website] = ACCOUNTS[i]!;
    const phone = country === 'US' ? usNumberIn(i, '415', String(50 + i)) : INTERNATIONAL(i);
    const account = await crm.createAccount({ name, industry, city, country, website, phone }, i % 2 ? aliceId : bobId);
    accountIds.push(account.id);
  }

  // Jane Doe at Acme: the contact the README and docs use.
  await crm.createContactRecord({ ...DEMO_FIXED.jane, title: 'VP Sales', account_id: accountIds[0]! }, aliceId);
  // Every generated number is distinct (area code × line, never 415 or 303 which the fixed records use),
  // so the only shared number is the intended one.
  let counter = 0;
  const nextNumber = (format: number) => {
    const k = counter++;
    return usNumberIn(format, AREAS[(Math.floor(k / 100) + 1) % AREAS.length]!, String(k % 100).padStart(2, '0'));
  };
  const contactTotal = 100;
  for (let i = 1; i < contactTotal; i++) {
    const first = FIRST[i % FIRST.length]!;
    const last = LAST[(i * 7) % LAST.length]!;
    const phones: Record<'phone_work' | 'phone_mobile' | 'phone_home' | 'phone_other', string | null> = {
      phone_work: rand() < 0.85 ? nextNumber(i) : null,
      phone_mobile: rand() < 0.6 ? nextNumber(i + 3) : null,
      phone_home: rand() < 0.2 ? nextNumber(i + 5) : null,
      phone_other: null,
    };
    if (i % 9 === 0) phones.phone_work = INTERNATIONAL(i);
    if (i % 23 === 0) phones.phone_other = INVALID[(i / 23) % INVALID.length]!;
    if (i % 31 === 0) phones.phone_home = '030 1234567';
    if (i === 1 || i === 2) phones.phone_mobile = DEMO_FIXED.sharedNumber; // two contacts, one number (a shared office line)
    const accountIndex = (i * 3 + Math.floor(i / 20)) % accountIds.length; // not tied to the last name
    const account = accountIds[accountIndex]!;
    const domain = ACCOUNTS[accountIndex]![4];
    const email = i % 11 === 0 ? null : `${first}.${last}`.toLowerCase().replace(/[^a-z.]/g, '') + `@${domain}`;
    await crm.createContactRecord(
      { first_name: first, last_name: last, title: pick(TITLES), email, account_id: account, ...phones },
      i % 2 ? aliceId : bobId,
    );
  }

  const statuses = ['new', 'working', 'qualified', 'unqualified'] as const;
  for (let i = 0; i < 10; i++) {
    await crm.createLead(
      {
        first_name: FIRST[(i * 3 + 2) % FIRST.length]!,
        last_name: LAST[(i * 5 + 3) % LAST.length]!,
        company: ['Northwind', 'Contoso', 'Fabrikam', 'Tailspin Toys', 'Litware', 'Adventure Works', 'Proseware', 'Lucerne Publishing', 'Wide World Importers', 'Coho Winery'][i]!,
        title: pick(TITLES),
        email: `lead${i + 1}@${['northwind', 'contoso', 'fabrikam', 'tailspin', 'litware', 'adventure', 'proseware', 'lucerne', 'wwi', 'coho'][i]}.example`,
        phone: i === 7 ? 'n/a' : nextNumber(i + 2),
        mobile: i % 3 === 0 ? nextNumber(i + 4) : null,
        status: statuses[i % statuses.length]!,
      },
      aliceId,
    );
  }

  // A little history, so timelines are not empty on first look.
  const jane = (await crm.listContacts({ q: 'jane@acme.com' })).data[0]!;
  const day = 86_400_000;
  const history = [
    { subject: 'Outbound call', direction: 'outbound', disposition: 'answered', duration_s: 312, ago: 6 * day },
    { subject: 'Inbound call', direction: 'inbound', disposition: 'no answer', duration_s: 0, ago: 3 * day },
  ] as const;
  for (const h of history) {
    const at = nowIso(() => Date.now() - h.ago);
    await deps.store.db
      .insertInto('activities')
      .values({
        id: newId(),
        kind: 'call',
        record_type: 'contact',
        record_id: jane.id,
        user_id: aliceId,
        subject: h.subject,
        body: null,
        occurred_at: at,
        ends_at: null,
        duration_s: h.duration_s,
        direction: h.direction,
        disposition: h.disposition,
        idempotency_key: null,
        details: JSON.stringify({ demo: true }),
        created_at: at,
      })
      .execute();
  }
  await crm.addNote({ record_type: 'contact', record_id: jane.id, subject: 'Wants a demo for 12 seats', body: 'Follow up after their budget meeting.' }, aliceId);

  return { users: DEMO_USERS.length, accounts: ACCOUNTS.length, contacts: contactTotal, leads: 10 };
}
