import type { Redis } from "ioredis";
import type { Logger } from "pino";

export const CATALOG_CHANNEL = "verdict:catalog-changed";

/**
 * Pushes "tenant X's catalog changed" to every instance over Redis pub/sub, so other instances
 * drop their cached catalog at once instead of waiting for their next version poll.
 */
export async function createRedisInvalidation(
  redis: Redis,
  onMessage: (tenantId: string) => void,
  logger: Logger,
): Promise<{ publish: (tenantId: string) => void; close: () => void }> {
  const subscriber = redis.duplicate({ enableOfflineQueue: true, lazyConnect: false });
  subscriber.on("error", (err) => logger.warn({ err: err.message }, "redis subscriber error"));
  subscriber.on("message", (channel: string, message: string) => {
    if (channel === CATALOG_CHANNEL) onMessage(message);
  });
  await subscriber.subscribe(CATALOG_CHANNEL).catch((err: unknown) => {
    logger.warn({ err: (err as Error).message }, "redis subscribe failed; relying on version polling");
  });
  return {
    publish: (tenantId) => {
      // Best effort: the version poll is the safety net when Redis is down.
      redis.publish(CATALOG_CHANNEL, tenantId).catch((err: unknown) => {
        logger.warn({ err: (err as Error).message }, "redis publish failed");
      });
    },
    close: () => subscriber.disconnect(),
  };
}
