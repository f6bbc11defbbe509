/**
 * What the distributed demo's processes agree on: the server and the
 * subjects' prefix.
 *
 * @module
 */

/** The NATS server: `NATS_URL`, or a local one. */
export function natsUrl(): string {
  return Deno.env.get("NATS_URL") ?? "127.0.0.1:4222";
}

/**
 * The first token of the demo's subjects and streams: other buses on the
 * same server do not see the demo's messages.
 */
export const DEMO_PREFIX = "demo";
