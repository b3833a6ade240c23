/** The local endpoint's TLS pair, read as serve reads its own (round 35; before: handed to Node's TLS as given). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { startLocalEndpoint } from "../../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { copiesHolding } from "../helpers/copies-made.js";
import { pkcs8V2Pem } from "../helpers/pkcs8-v2.js";
import { identity, send, signedCreateSession } from "./support.js";

const { dir, cleanup } = makeTempDir("raa-local-tls-key-");
afterAll(cleanup);
const ca = createCa(dir, { name: "Local TLS CA" });
const device = issueLeaf(ca, dir, { name: "tls-key-device", keyType: "p256" });
const server = (name: string, keyType: "rsa2048" | "p384" | "p256") =>
  issueLeaf(ca, join(dir, "tls"), { name, keyType, extensions: ["basicConstraints=critical,CA:FALSE", "subjectAltName=IP:127.0.0.1"] });

describe(`the local endpoint's TLS key, read by the file signer's reader, Node ${process.versions.node}`, () => {
  it.each(["rsa2048", "p384"] as const)("takes a PKCS#8 version 2 %s key with its [1] publicKey under every Node (before: refused under Node 20)", async (type) => {
    const pair = server(`v2-${type}`, type);
    const key = Buffer.from(pkcs8V2Pem(readFileSync(pair.keyPath, "utf8")));
    const given = Buffer.from(key);
    const { result: endpoint, left } = await copiesHolding(key.subarray(40, 80), () => startLocalEndpoint({ trustAnchors: ca.certPath, tls: { cert: pair.certPem, key } }));
    try {
      const res = await send(endpoint.url, await signedCreateSession(endpoint.url, identity(device)), ca.certPem);
      expect(res.status, res.body).toBe(201);
      // Its copies of the key wiped once the TLS context holds it; the caller's Buffer left as it was.
      expect([left, key.equals(given)]).toEqual([0, true]);
    } finally {
      await endpoint.close();
    }
  });

  it("refuses what serve refuses, in the same words: a key of another pair, a key that does not parse, an encrypted key, a chain Node's TLS refuses", async () => {
    const [pair, other] = [server("mine", "p256"), server("other", "p256")];
    const encrypted = (await import("node:crypto")).createPrivateKey(readFileSync(pair.keyPath)).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" });
    for (const [key, code, message] of [
      [readFileSync(other.keyPath), "KEY_CERTIFICATE_MISMATCH", "TLS private key tls.key does not belong to the certificate in tls.cert"],
      ["not a key", "PRIVATE_KEY_INVALID", "unable to parse private key: tls.key holds no private key"],
      [encrypted, "PASSWORD_REQUIRED", "tls.key holds an encrypted private key and no password was given"],
    ] as const) {
      await expect(startLocalEndpoint({ trustAnchors: ca.certPath, tls: { cert: pair.certPem, key } })).rejects.toMatchObject({ code, message });
    }
    const chain = `${pair.certPem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`;
    await expect(startLocalEndpoint({ trustAnchors: ca.certPath, tls: { cert: chain, key: readFileSync(pair.keyPath) } })).rejects.toMatchObject({
      code: "CERTIFICATE_INVALID",
      message: expect.stringMatching(/^TLS certificate file tls.cert is not usable: /),
    });
  });

  it("--tls-key of another pair: one line on stderr, exit 3, and the key file's bytes read wiped (before: kept)", async () => {
    const [pair, other] = [server("cli-mine", "p256"), server("cli-other", "p256")];
    const stderr = new PassThrough();
    let err = "";
    stderr.on("data", (d: Buffer) => (err += d.toString()));
    const argv = ["local-endpoint", "--trust-anchors", ca.certPath, "--tls-cert", pair.certPath, "--tls-key", other.keyPath];
    const secret = Buffer.from(readFileSync(other.keyPath, "utf8").split("\n")[1]!);
    const { result, left } = await copiesHolding(secret, () => main(argv, { stdout: new PassThrough(), stderr, env: {} }));
    expect([result, left]).toEqual([3, 0]);
    // Round 36 (H2): naming the files given (was: "TLS private key tls.key does not belong to the certificate in tls.cert").
    expect(err.trim().split("\n")).toEqual([
      `roles-anywhere-agent: TLS private key ${other.keyPath} does not belong to the certificate in ${pair.certPath} (give the key and the certificate of the same pair (tls.key and tls.crt of one Secret))`,
    ]);
  });

  it("names the pair as the caller says (tls.names), else tls.key and tls.cert (round 36)", async () => {
    const [pair, other] = [server("named", "p256"), server("named-other", "p256")];
    const names = { cert: "/etc/ci/server.pem", key: "/etc/ci/server-key.pem" };
    for (const [key, code, message] of [
      [readFileSync(other.keyPath), "KEY_CERTIFICATE_MISMATCH", `TLS private key ${names.key} does not belong to the certificate in ${names.cert}`],
      ["not a key", "PRIVATE_KEY_INVALID", `unable to parse private key: ${names.key} holds no private key`],
    ] as const) {
      await expect(startLocalEndpoint({ trustAnchors: ca.certPath, tls: { cert: pair.certPem, key, names } })).rejects.toMatchObject({ code, message });
    }
    await expect(startLocalEndpoint({ trustAnchors: ca.certPath, tls: { cert: "no certificate", key: readFileSync(pair.keyPath), names } })).rejects.toMatchObject({
      code: "CERTIFICATE_INVALID", message: `TLS certificate file ${names.cert} holds no PEM or DER certificate`,
    });
    const wrong = { cert: pair.certPem, key: readFileSync(pair.keyPath), names: { cert: 1 } } as unknown as { cert: string; key: Buffer };
    await expect(startLocalEndpoint({ trustAnchors: ca.certPath, tls: wrong })).rejects.toMatchObject({ code: "USAGE" });
  });
});
