import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "node:net";
import { main } from "../../src/cli/main.js";
import { MAX_LOG_LINE } from "../../src/errors.js";
import { loadLocalEndpointConfig, parseLocalEndpointConfig } from "../../src/local-endpoint/config.js";
import { startLocalEndpoint } from "../../src/local-endpoint/server.js";
import { loadTrustAnchors } from "../../src/local-endpoint/trust-anchors.js";
import { verifyCreateSessionRequest } from "../../src/local-endpoint/verify-request.js";
import { wireRequest } from "../../src/local-endpoint/wire-request.js";
import { Certificate } from "../../src/x509/certificate.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { identity, send, signedCreateSession } from "./support.js";

const { dir, cleanup } = makeTempDir("raa-local-startup-");
afterAll(cleanup);
const ca = createCa(dir, { name: "Startup CA" });
const leaf = issueLeaf(ca, dir, { name: "startup-device", keyType: "p256" });

describe("local endpoint config", () => {
  it("accepts profile ARNs and IDs with their roles", () => {
    const config = parseLocalEndpointConfig({
      profiles: {
        "arn:aws:rolesanywhere:us-east-1:111122223333:profile/abc": { roles: ["arn:aws:iam::111122223333:role/A"] },
        "d1e2": { roles: ["arn:aws:iam::111122223333:role/B"], maxDurationSeconds: 900, acceptRoleSessionName: false },
      },
    });
    expect([...config.profiles.keys()]).toEqual(["arn:aws:rolesanywhere:us-east-1:111122223333:profile/abc", "d1e2"]);
    expect(config.profiles.get("d1e2")).toMatchObject({ maxDurationSeconds: 900, acceptRoleSessionName: false });
  });

  it.each([
    [[], /the top level must be an object/],
    [{ profile: {} }, /unknown key "profile"/],
    [{ profiles: [] }, /"profiles" must be an object/],
    [{ profiles: { p: { roles: [] } } }, /profile "p": "roles" must be a non-empty array of role ARNs/],
    [{ profiles: { p: { roles: ["Admin"] } } }, /profile "p": invalid role ARN 'Admin'/],
    [{ profiles: { p: { roles: ["arn:aws:iam::1:role/A"], maxDurationSeconds: 60 } } }, /"maxDurationSeconds" must be a whole number from 900 to 43200 \(got 60\)/],
    [{ profiles: { p: { roles: ["arn:aws:iam::1:role/A"], acceptRoleSessionName: "yes" } } }, /"acceptRoleSessionName" must be true or false/],
    [{ profiles: { p: { roles: ["arn:aws:iam::1:role/A"], duration: 1 } } }, /unknown key "duration"/],
    [{ profiles: { "arn:aws:rolesanywhere:us-east-1:1:trust-anchor/x": { roles: ["arn:aws:iam::1:role/A"] } } }, /resource must be 'profile\/<id>'/],
    [{ profiles: { "a b": { roles: ["arn:aws:iam::1:role/A"] } } }, /a key must be a profile ARN or a profile ID/],
  ])("rejects %j with CONFIG_INVALID", (json, message) => {
    expect(() => parseLocalEndpointConfig(json, "test.json")).toThrow(expect.objectContaining({ code: "CONFIG_INVALID", message: expect.stringMatching(message) }));
  });

  it("names the file when it is not JSON", async () => {
    const path = join(dir, "broken.json");
    writeFileSync(path, "{ profiles: ");
    await expect(loadLocalEndpointConfig(path)).rejects.toMatchObject({ code: "CONFIG_INVALID", message: expect.stringContaining(`${path}: not valid JSON`) });
  });

  it("never quotes the file's text when it is not JSON (a secret key given as --config)", async () => {
    const path = join(dir, "secret.json");
    writeFileSync(path, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n");
    const error = await loadLocalEndpointConfig(path).catch((e: Error) => e);
    expect(error).toMatchObject({ code: "CONFIG_INVALID", message: expect.stringMatching(/not valid JSON \(Unexpected token 'w'\)$/) });
    expect((error as Error).message).not.toMatch(/wJalr|EXAMPLEKEY/);
  });
});

describe("local endpoint trust anchors", () => {
  it("loads a PEM bundle, PEM text and Certificate objects", async () => {
    const bundle = join(dir, "bundle.pem");
    const other = createCa(join(dir, "other"), { name: "Other CA" });
    writeFileSync(bundle, `${ca.certPem}\nsome comment\n${other.certPem}`);
    const anchors = await loadTrustAnchors([bundle, other.certPem, new Certificate(new X509Certificate(ca.certPem).raw)]);
    expect(anchors.map((a) => a.subject)).toEqual(["CN=Startup CA", "CN=Other CA", "CN=Other CA", "CN=Startup CA"]);
  });

  it("refuses an end-entity certificate, an empty file and a missing file", async () => {
    await expect(loadTrustAnchors(leaf.certPath)).rejects.toMatchObject({ code: "CERTIFICATE_INVALID", message: expect.stringContaining('"CN=startup-device"') });
    const empty = join(dir, "empty.pem");
    writeFileSync(empty, "no certificates here\n");
    await expect(loadTrustAnchors(empty)).rejects.toMatchObject({ code: "CERTIFICATE_MISSING" });
    await expect(loadTrustAnchors(join(dir, "missing.pem"))).rejects.toMatchObject({ code: "FILE_NOT_FOUND" });
  });
});

describe("verifyCreateSessionRequest with an injected clock and verifier table", () => {
  const device = identity(leaf);
  const anchors = [new Certificate(new X509Certificate(ca.certPem).raw)];
  const wire = async (date: Date) => {
    const req = await signedCreateSession("http://127.0.0.1:1", device, { date });
    const raw = Object.entries(req.headers).flat();
    return wireRequest(req.method, req.target, raw, Buffer.from(req.body));
  };

  it("checks certificate validity against the injected clock, not the wall clock", async () => {
    const later = new Date(Date.now() + 400 * 86_400_000);
    await expect(verifyCreateSessionRequest(await wire(later), { region: "us-east-1", trustAnchors: anchors, config: undefined }, later)).rejects.toMatchObject({
      status: 403,
      serviceCode: "AccessDeniedException",
      message: expect.stringMatching(/^Signing certificate expired/),
    });
    const now = new Date();
    const ok = await verifyCreateSessionRequest(await wire(now), { region: "us-east-1", trustAnchors: anchors, config: undefined }, now);
    expect(ok).toMatchObject({ keyType: "EC", durationSeconds: 3600, roleSessionName: undefined });
    expect(ok.path.map((c) => c.subject)).toEqual(["CN=startup-device", "CN=Startup CA"]);
  });

  it("refuses a key type that has no verifier in the table", async () => {
    const now = new Date();
    await expect(
      verifyCreateSessionRequest(await wire(now), { region: "us-east-1", trustAnchors: anchors, config: undefined, verifiers: {} }, now),
    ).rejects.toMatchObject({ status: 403, message: "This endpoint cannot verify EC signatures yet" });
  });
});

describe("local endpoint over HTTPS", () => {
  it("serves CreateSession with the given certificate", async () => {
    const serverCert = issueLeaf(ca, join(dir, "tls"), {
      name: "127.0.0.1",
      keyType: "p256",
      extensions: ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth", "subjectAltName=IP:127.0.0.1"],
    });
    const endpoint = await startLocalEndpoint({
      trustAnchors: ca.certPath,
      tls: { cert: serverCert.certPem, key: readFileSync(serverCert.keyPath) },
    });
    try {
      expect(endpoint.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const res = await send(endpoint.url, await signedCreateSession(endpoint.url, identity(leaf)), ca.certPem);
      expect(res.status, res.body).toBe(201);
    } finally {
      await endpoint.close();
    }
  });
});

describe("startLocalEndpoint options from plain JavaScript", () => {
  it.each([
    [null, "the options must be an object"],
    [{}, "trustAnchors must be a CA certificate (path or PEM text), or an array of them"],
    [{ trustAnchors: 5 }, "trustAnchors must be"],
    [{ trustAnchors: [null] }, "trustAnchors must be"],
    [{ trustAnchors: "ca.pem", port: "8080" }, "port must be a port number from 0 to 65535"],
    [{ trustAnchors: "ca.pem", port: 70000 }, "port must be a port number from 0 to 65535"],
    [{ trustAnchors: "ca.pem", host: "" }, "host must be a host name or address"],
    [{ trustAnchors: "ca.pem", config: null }, "config must be a path or an object"],
    [{ trustAnchors: "ca.pem", tls: "cert.pem" }, "tls must be { cert, key }"],
    [{ trustAnchors: "ca.pem", tls: { cert: "x" } }, "tls must be { cert, key }"],
    [{ trustAnchors: "ca.pem", verifiers: { RSA: 5 } }, "verifiers must be an object of functions"],
    [{ trustAnchors: "ca.pem", rateLimit: "10" }, "rateLimit must be a number"],
    [{ trustAnchors: "ca.pem", clock: Date.now() }, "clock must be a function"],
  ])("%j is a USAGE error naming the option, not a TypeError", async (options, message) => {
    const error = await startLocalEndpoint(options as never).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "USAGE", message: expect.stringContaining(message) });
  });

  it("a throwing onRequest or clock neither ends the process nor stops the endpoint", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    const fail = () => {
      throw new Error("a failed assertion in the caller's callback");
    };
    try {
      for (const options of [{ onRequest: fail }, { clock: fail }]) {
        const endpoint = await startLocalEndpoint({ trustAnchors: ca.certPath, ...options });
        try {
          for (let i = 0; i < 2; i++) {
            const res = await send(endpoint.url, await signedCreateSession(endpoint.url, identity(leaf)));
            expect(res.status).toBe("onRequest" in options ? 201 : 500); // a throwing clock fails the request only
          }
          expect(endpoint.requests).toHaveLength(2);
        } finally {
          await endpoint.close();
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("a TLS certificate or key that is not usable is an input error (exit 3), not an internal error", async () => {
    const tls = { cert: ca.certPem, key: "not a key" };
    await expect(startLocalEndpoint({ trustAnchors: ca.certPath, tls })).rejects.toMatchObject({ code: "PRIVATE_KEY_INVALID" });
    await expect(startLocalEndpoint({ trustAnchors: ca.certPath, tls: { ...tls, cert: "not a certificate" } })).rejects.toMatchObject({ code: "CERTIFICATE_INVALID" });
    const stray = issueLeaf(ca, join(dir, "stray"), { name: "stray", keyType: "p256" });
    const mismatch = { cert: ca.certPem, key: readFileSync(stray.keyPath) };
    const error = await startLocalEndpoint({ trustAnchors: ca.certPath, tls: mismatch }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "KEY_CERTIFICATE_MISMATCH", message: expect.stringContaining("does not belong to the certificate") });
    const stderr = new PassThrough();
    let err = "";
    stderr.on("data", (d: Buffer) => (err += d.toString()));
    const argv = ["local-endpoint", "--trust-anchors", ca.certPath, "--tls-cert", ca.certPath, "--tls-key", stray.keyPath];
    expect(await main(argv, { stdout: new PassThrough(), stderr, env: {} })).toBe(3);
    expect(err).not.toMatch(/internal error/);
    expect(err.trim().split("\n")).toHaveLength(1);
  });
});

describe("local-endpoint command line", () => {
  async function run(argv: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = "";
    let err = "";
    stdout.on("data", (d: Buffer) => (out += d.toString()));
    stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await main(argv, { stdout, stderr, env: {} });
    return { code, stdout: out, stderr: err };
  }

  it.each([
    [[], /--trust-anchors is required/],
    [["--trust-anchors", "x.pem", "--tls-cert", "c.pem"], /--tls-cert and --tls-key go together/],
    [["--trust-anchors", "x.pem", "--port", "70000"], /--port must be a whole number from 0 to 65535 \(got 70000\)/],
    [["--trust-anchors", "x.pem", "--fail-next", "1", "--fail-status", "200"], /--fail-status 200 must be an HTTP error status/],
    // Not "--fail-next 9007199254740992 must be a non-negative integer": the double 2^53 the text rounds to is above the bound.
    [["--trust-anchors", "x.pem", "--fail-next", "9007199254740993"], /--fail-next must be a whole number from 0 to 9007199254740991 \(got 9007199254740992\)/],
    [["--trust-anchors", "x.pem", "--fail-next", "-1"], /--fail-next must be a whole number from 0 to 9007199254740991 \(got -1\)/],
  ])("%j is a usage error (exit 2)", async (args, message) => {
    const r = await run(["local-endpoint", ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  });

  it("logs each request on one line of bounded length, whatever its target holds (120 KB)", async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = "";
    stderr.on("data", (d: Buffer) => (err += d.toString()));
    const url = new Promise<string>((resolve) => stdout.once("data", (d: Buffer) => resolve(d.toString().trim())));
    const running = main(["local-endpoint", "--trust-anchors", ca.certPath, "--port", "0"], { stdout, stderr, env: {} });
    const { port } = new URL(await url);
    const target = Buffer.concat([Buffer.from("/"), Buffer.alloc(120_000, "a")]); // Node takes up to --max-header-size
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), "127.0.0.1", () => {
        socket.end(Buffer.concat([Buffer.from("GET "), target, Buffer.from(" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")]));
      });
      socket.on("data", () => {}).on("close", () => resolve()).on("error", reject);
    });
    process.emit("SIGTERM");
    expect(await running).toBe(0);
    const line = err.split("\n").find((l) => l.includes(" GET /"))!;
    expect(line).toBeDefined();
    expect(line.length).toBe(MAX_LOG_LINE + 1);
  });

  it("reports a missing trust anchor file as an input error (exit 3)", async () => {
    const r = await run(["local-endpoint", "--trust-anchors", join(dir, "nope.pem")]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/trust anchor file .*nope\.pem does not exist/);
  });
});
