import { ValidationError, WebhookDestinationPolicy, toSubscription, type Config, type WebhookRequest, type WebhookSubscription } from "@videosdgx/shared";

/** Admits a job's `webhook` at submit time: a secret to sign with, and a destination that is not private. */
export class WebhookSubscriptions {
  private readonly destinations: WebhookDestinationPolicy;

  constructor(private readonly config: Config) {
    this.destinations = new WebhookDestinationPolicy(config.WEBHOOK_ALLOW_HOSTS);
  }

  /** A job submitted with an API key is signed with that key's own secret; an anonymous one needs the server's. */
  async admit(req: WebhookRequest, ownerKeyId: string | undefined): Promise<WebhookSubscription> {
    if (ownerKeyId === undefined && this.config.WEBHOOK_SECRET.length === 0) {
      throw new ValidationError(
        "webhooks are not enabled on this server: its operator sets WEBHOOK_SECRET (whsec_...) to sign them",
        [{ field: "webhook", message: "webhooks are not enabled" }],
        "webhooks_disabled",
      );
    }
    await this.destinations.checkResolved(new URL(req.url));
    return toSubscription(req);
  }
}
