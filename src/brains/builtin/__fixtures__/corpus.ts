/** A small document corpus and a CSV table for exercising the built-in brain against fake tools. */

export interface FixtureDocument {
  id: string;
  title: string;
  chunks: string[];
}

export const DOCUMENTS: FixtureDocument[] = [
  {
    id: 'doc-handbook',
    title: 'Employee Handbook',
    chunks: [
      'Our vacation policy gives every employee 25 days of paid vacation per year. Vacation days accrue monthly from the first day of employment.',
      'Unused vacation days may be carried over into the next year, up to a maximum of five days. Requests for vacation must be approved by your manager two weeks in advance.',
      'Sick leave is separate from vacation and does not require advance approval.',
    ],
  },
  {
    id: 'doc-faq',
    title: 'HR FAQ',
    chunks: [
      'Can I take vacation during my probation period? Yes, the vacation policy applies from the first day, but managers may ask you to plan around onboarding.',
      'Public holidays do not count against your vacation allowance.',
    ],
  },
  {
    id: 'doc-onboarding',
    title: 'Onboarding Guide',
    chunks: [
      'During onboarding every new hire meets their buddy on the first day. The onboarding checklist covers laptop setup, accounts and security training.',
      'In the second week of onboarding new hires shadow a senior colleague. Onboarding ends with a review meeting with the manager after thirty days.',
    ],
  },
  {
    id: 'doc-postgres',
    title: 'PostgreSQL Operations',
    chunks: [
      'PostgreSQL can serve as a cache with unlogged tables, which skip the write-ahead log for speed. Durability is lost on crash, which is acceptable for caching.',
      'PostgreSQL offers transactions, rich indexing and SQL queries over the cached data.',
    ],
  },
  {
    id: 'doc-redis',
    title: 'Redis Guide',
    chunks: [
      'Redis keeps data in memory and is widely used for caching with key expiry. Eviction policies such as LRU keep memory bounded.',
      'Redis supports persistence through snapshots, but caching workloads usually disable it for speed.',
    ],
  },
];

/** Rows of the fixture `sales.csv`. */
export const SALES_ROWS: Array<Record<string, string | number>> = [
  { order_id: 1, region: 'North', product: 'Widget', units: 10, revenue: 1200 },
  { order_id: 2, region: 'South', product: 'Widget', units: 4, revenue: 480 },
  { order_id: 3, region: 'North', product: 'Gadget', units: 2, revenue: 900 },
  { order_id: 4, region: 'East', product: 'Widget', units: 7, revenue: 840 },
  { order_id: 5, region: 'South', product: 'Gadget', units: 1, revenue: 450 },
  { order_id: 6, region: 'North', product: 'Widget', units: 3, revenue: 360 },
];
