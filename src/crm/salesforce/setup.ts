/** The adapter from the configuration (`CRM=salesforce` and the `SALESFORCE_*` keys). */
import type { Config } from '../../config/index.ts';
import type { PhoneNumbers } from '../../phone/index.ts';
import type { Store } from '../../store/index.ts';
import { SalesforceCrm, type SalesforceCrmOptions, type SalesforceSettings } from './adapter.ts';

export function salesforceSettings(config: Config): SalesforceSettings {
  return {
    loginUrl: config.SALESFORCE_LOGIN_URL,
    clientId: config.SALESFORCE_CLIENT_ID ?? '',
    username: config.SALESFORCE_USERNAME ?? '',
    privateKeyFile: config.SALESFORCE_PRIVATE_KEY_FILE ?? '',
    apiVersion: config.SALESFORCE_API_VERSION,
    syncIntervalS: config.SALESFORCE_SYNC_INTERVAL_S,
    apiReservePct: config.SALESFORCE_API_RESERVE_PCT,
    userMatch: config.SALESFORCE_USER_MATCH,
    userMap: config.SALESFORCE_USER_MAP,
    externalIdField: config.SALESFORCE_EXTERNAL_ID_FIELD ?? null,
    batchWindowMs: config.SALESFORCE_BATCH_WINDOW_MS,
  };
}

export function createSalesforceCrm(
  config: Config,
  deps: { store: Store; phones: PhoneNumbers; logger: SalesforceCrmOptions['log'] & { child(b: object): SalesforceCrmOptions['log'] }; clock?: () => number },
  tuning: Partial<Pick<SalesforceCrmOptions, 'pageSize' | 'limitPauseMs' | 'missTtlMs' | 'slowIntervalMs' | 'timeoutMs'>> = {},
): SalesforceCrm {
  return new SalesforceCrm({
    store: deps.store,
    phones: deps.phones,
    settings: salesforceSettings(config),
    log: deps.logger.child({ role: 'salesforce' }),
    userEmail: async (userId) => (await deps.store.db.selectFrom('users').select('email').where('id', '=', userId).executeTakeFirst())?.email,
    userIds: async () => (await deps.store.db.selectFrom('users').select('id').where('disabled', '=', 0).execute()).map((u) => u.id),
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...tuning,
  });
}
