/**
 * The stand-in's objects and fields: the standard fields the adapter reads or writes, typed as the
 * org types them (contract §3–§6). Anything else is `INVALID_FIELD`, as in an org.
 */

export type FieldType = 'id' | 'string' | 'textarea' | 'phone' | 'email' | 'reference' | 'picklist' | 'boolean' | 'int' | 'date' | 'datetime';

export interface FieldDef {
  type: FieldType;
  /** Can be set on create / update (system and formula fields cannot). */
  createable: boolean;
  updateable: boolean;
  /** Restricted picklist values. */
  restricted?: string[];
  /** Objects a reference may point to. */
  referenceTo?: string[];
  length?: number;
  externalId?: boolean;
}

export interface ObjectDef {
  name: string;
  keyPrefix: string;
  fields: Record<string, FieldDef>;
  required: string[];
}

const f = (type: FieldType, extra: Partial<FieldDef> = {}): FieldDef => ({ type, createable: true, updateable: true, ...extra });
const system = (type: FieldType): FieldDef => ({ type, createable: false, updateable: false });
const text = (length: number) => f('string', { length });

const SYSTEM: Record<string, FieldDef> = {
  Id: system('id'),
  IsDeleted: system('boolean'),
  CreatedDate: system('datetime'),
  LastModifiedDate: system('datetime'),
  SystemModstamp: system('datetime'),
  CreatedById: system('reference'),
  OwnerId: f('reference', { referenceTo: ['User'] }),
};

export const PHONE_FIELDS: Record<string, string[]> = {
  Contact: ['Phone', 'MobilePhone', 'HomePhone', 'OtherPhone', 'AssistantPhone', 'Fax'],
  Lead: ['Phone', 'MobilePhone', 'Fax'],
  Account: ['Phone', 'Fax'],
};

/** The activity custom field of the setup guide (External ID, Unique): present unless a test removes it. */
export const EXTERNAL_ID_FIELD = 'Ringside_Call_Id__c';

export function objectDefs(options: { externalIdField: boolean }): Record<string, ObjectDef> {
  const ext: Record<string, FieldDef> = options.externalIdField ? { [EXTERNAL_ID_FIELD]: f('string', { length: 64, externalId: true }) } : {};
  return {
    User: {
      name: 'User',
      keyPrefix: '005',
      required: ['Username', 'LastName'],
      fields: { ...SYSTEM, OwnerId: system('reference'), Username: text(80), Email: f('email', { length: 128 }), FirstName: text(40), LastName: text(80), Name: system('string'), IsActive: f('boolean') },
    },
    Account: {
      name: 'Account',
      keyPrefix: '001',
      required: ['Name'],
      fields: { ...SYSTEM, Name: text(255), Phone: f('phone', { length: 40 }), Fax: f('phone', { length: 40 }), Website: text(255), Industry: text(255), Description: f('textarea', { length: 32000 }) },
    },
    Contact: {
      name: 'Contact',
      keyPrefix: '003',
      required: ['LastName'],
      fields: {
        ...SYSTEM,
        FirstName: text(40),
        LastName: text(80),
        Name: system('string'),
        Title: text(128),
        Email: f('email', { length: 80 }),
        AccountId: f('reference', { referenceTo: ['Account'] }),
        Phone: f('phone', { length: 40 }),
        MobilePhone: f('phone', { length: 40 }),
        HomePhone: f('phone', { length: 40 }),
        OtherPhone: f('phone', { length: 40 }),
        AssistantPhone: f('phone', { length: 40 }),
        Fax: f('phone', { length: 40 }),
        Description: f('textarea', { length: 32000 }),
      },
    },
    Lead: {
      name: 'Lead',
      keyPrefix: '00Q',
      required: ['LastName', 'Company'],
      fields: {
        ...SYSTEM,
        FirstName: text(40),
        LastName: text(80),
        Name: system('string'),
        Company: text(255),
        Title: text(128),
        Email: f('email', { length: 80 }),
        Phone: f('phone', { length: 40 }),
        MobilePhone: f('phone', { length: 40 }),
        Fax: f('phone', { length: 40 }),
        Status: text(40),
        IsConverted: { type: 'boolean', createable: false, updateable: false },
        Description: f('textarea', { length: 32000 }),
      },
    },
    Task: {
      name: 'Task',
      keyPrefix: '00T',
      required: [],
      fields: {
        ...SYSTEM,
        Subject: text(255),
        WhoId: f('reference', { referenceTo: ['Contact', 'Lead'] }),
        WhatId: f('reference', { referenceTo: ['Account'] }),
        ActivityDate: f('date'),
        Status: text(40),
        Priority: text(40),
        TaskSubtype: f('picklist', { restricted: ['Task', 'Email', 'LinkedIn', 'List Email', 'Cadence', 'Call'], updateable: false }),
        Type: text(40),
        CallType: f('picklist', { restricted: ['Inbound', 'Internal', 'Outbound'] }),
        CallDurationInSeconds: f('int'),
        CallDisposition: text(255),
        CallObject: text(255),
        Description: f('textarea', { length: 32000 }),
        IsReminderSet: f('boolean'),
        ReminderDateTime: f('datetime'),
        CompletedDateTime: system('datetime'),
        ...ext,
      },
    },
    Event: {
      name: 'Event',
      keyPrefix: '00U',
      required: [],
      fields: {
        ...SYSTEM,
        Subject: text(255),
        StartDateTime: f('datetime'),
        EndDateTime: f('datetime'),
        DurationInMinutes: f('int'),
        IsAllDayEvent: f('boolean'),
        ActivityDate: f('date'),
        WhoId: f('reference', { referenceTo: ['Contact', 'Lead'] }),
        WhatId: f('reference', { referenceTo: ['Account'] }),
        Location: text(255),
        Description: f('textarea', { length: 32000 }),
        IsReminderSet: f('boolean'),
        ReminderDateTime: f('datetime'),
        ShowAs: text(40),
        EventSubtype: text(40),
        ...ext,
      },
    },
  };
}
