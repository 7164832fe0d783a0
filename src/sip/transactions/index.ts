export { DEFAULT_TIMERS, type TimerConfig, type TransactionTransport } from './transaction.ts';
export { InviteClientTransaction, NonInviteClientTransaction, type ClientTransactionUser } from './client-transactions.ts';
export { InviteServerTransaction, NonInviteServerTransaction, type ServerTransaction } from './server-transactions.ts';
export {
  DEFAULT_MAX_SERVER_TRANSACTIONS,
  TransactionLayer,
  responseDestination,
  type ClientTransaction,
  type TransactionLayerStats,
  type TransactionLimits,
  type TransactionUser,
} from './transaction-layer.ts';
