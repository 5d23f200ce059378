import type { BillStatus } from '../ports';

/** Bills still awaiting their provider's verdict: at most one per order and channel (a unique index keeps it so). */
export const ACTIVE_BILL_STATUSES: ReadonlySet<BillStatus> = new Set<BillStatus>(['creating', 'open']);
