export * from './types.js';
export { InProcessEventBus, type EventBus, type EventListener } from './bus.js';
export { RedisEventBus } from './redis-bus.js';
export { followTask, type EventLogReader, type FollowItem, type FollowOptions } from './follow.js';
export { formatSse, formatNdjson, toSeedEvent, type SeedEvent } from './serialize.js';
