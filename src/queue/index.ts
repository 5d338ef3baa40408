export * from './types.js';
export { InProcessWorkQueue } from './in-process-queue.js';
