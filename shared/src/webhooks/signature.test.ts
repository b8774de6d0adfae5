import assert from "node:assert/strict";
import { test } from "node:test";
import { isValidWebhookSecret, newWebhookSecret, signWebhook } from "./signature.js";

test("signatures match the Standard Webhooks specification's example", () => {
  // The example of the specification's README (secret, id, timestamp, body and the expected header).
  const header = signWebhook(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}');
  assert.equal(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
});

test("several secrets sign side by side, for rotation; new secrets are valid and distinct", () => {
  const [a, b] = [newWebhookSecret(), newWebhookSecret()];
  assert.notEqual(a, b);
  assert.ok(isValidWebhookSecret(a));
  const both = signWebhook([a, b], "msg_1", 1, "{}").split(" ");
  assert.deepEqual(both, [signWebhook([a], "msg_1", 1, "{}"), signWebhook([b], "msg_1", 1, "{}")]);
  assert.equal(isValidWebhookSecret("whsec_c2hvcnQ="), false, "5 bytes is too short");
  assert.equal(isValidWebhookSecret("sk_live_abc"), false);
});
