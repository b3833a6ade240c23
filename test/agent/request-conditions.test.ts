/** What a client asking the agent by ARNs sends as conditions (request-conditions.ts), compared there as strings. */
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { requestConditions } from "../../src/agent/request-conditions.js";
import type { CredentialSettings } from "../../src/settings/credential-settings.js";
import type { ProfileArn, RoleArn, TrustAnchorArn } from "../../src/arn.js";

const withSigner = (signer: CredentialSettings["signer"]): CredentialSettings => ({
  signer,
  session: {
    trustAnchorArn: "arn:aws:rolesanywhere:eu-west-1:1:trust-anchor/t" as TrustAnchorArn,
    profileArn: "arn:aws:rolesanywhere:eu-west-1:1:profile/p" as ProfileArn,
    roleArn: "arn:aws:iam::1:role/R" as RoleArn,
    durationSeconds: 3600,
  },
  endpoint: {},
});

describe("request conditions", () => {
  it("a TPM handle is the handle, in one case, not a path of the caller's working directory", () => {
    // The agent runs elsewhere (systemd: /): a handle resolved as a path never matched, and 0x…A and 0x…a differed.
    const conditions = requestConditions(withSigner({ certificate: "c.pem", privateKey: "handle:0x8100000A" }))!;
    expect(conditions["private-key"]).toBe("handle:0x8100000a");
    expect(conditions.certificate).toBe(resolve("c.pem"));
  });

  it("none when the certificate or the key is read by this process alone (standard input, env:): nothing to compare", () => {
    for (const [certificate, privateKey] of [["c.pem", "env:KEY"], ["c.pem", "-"], ["env:CERT", "k.pem"], ["-", "pkcs11:token=t;object=k"]]) {
      expect(requestConditions(withSigner({ certificate, privateKey })), `${certificate} ${privateKey}`).toBeUndefined();
    }
  });

  it("never carries a PIN: a PKCS#11 URI's pin-value is left out; a bare library name stays a name, a path is made absolute", () => {
    const key = "pkcs11:token=t;object=k?pin-value=1234";
    const bare = requestConditions(withSigner({ privateKey: key, pkcs11: { library: "libsofthsm2.so" } }))!;
    expect(JSON.stringify(bare)).not.toContain("1234");
    expect(bare).toMatchObject({ "private-key": "pkcs11:object=k;token=t", "pkcs11-lib": "libsofthsm2.so" });
    const relative = requestConditions(withSigner({ privateKey: key, pkcs11: { library: "lib/p11.so" } }))!;
    expect(relative["pkcs11-lib"]).toBe(resolve("lib/p11.so"));
  });
});
