import type { BuiltinCrm } from '../crm/index.ts';

/** A real contact's number for the built-in test caller, so its call pops that contact like a customer's would. */
export async function testCallerNumber(crm: BuiltinCrm): Promise<string> {
  const page = await crm.listContacts({ limit: 20 });
  for (const c of page.data) {
    const phone = c.phones.find((p) => p.e164);
    if (phone?.e164) return phone.e164;
  }
  return '+14155550134';
}
