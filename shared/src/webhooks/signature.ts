import { createHmac, randomBytes } from "node:crypto";

/** Standard Webhooks secrets: `whsec_` and 24 to 64 random bytes in base64. */
export const WEBHOOK_SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

export function isValidWebhookSecret(secret: string): boolean {
  if (!WEBHOOK_SECRET_PATTERN.test(secret)) return false;
  const bytes = Buffer.from(secret.slice("whsec_".length), "base64").length;
  return bytes >= 24 && bytes <= 64;
}

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/**
 * The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` per secret,
 * space-separated, so a receiver can rotate from one secret to the next without missing a message.
 */
export function signWebhook(secrets: readonly string[], messageId: string, timestampSeconds: number, body: string): string {
  return secrets
    .map((s) => {
      const key = Buffer.from(s.slice("whsec_".length), "base64");
      return `v1,${createHmac("sha256", key).update(`${messageId}.${timestampSeconds}.${body}`).digest("base64")}`;
    })
    .join(" ");
}
