export * from './types.js';
export { InProcessWorkQueue } from './in-process-queue.js';
export { PolledQueue } from './polled-queue.js';
export { RedisStreamsQueue, type RedisStreamsQueueOptions } from './redis-streams-queue.js';
