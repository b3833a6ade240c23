import { afterAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, closeSync, constants, lchownSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { connect } from "node:tls";
import { join } from "node:path";
import { startCredentialServer, ECS_PATH, checkEndpointChoice } from "../../src/serve/credential-server.js";
import { ecsConsumers, withRandomTokens } from "../../src/serve/ecs-consumers.js";
import { openEcsTokenFiles } from "../../src/serve/ecs-token-files.js";
import { secretVolume, servedSerial } from "../helpers/secret-volume.js";
import { createCa, issueLeaf, makeTempDir, type CaHandle } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-tls-endpoint-");
afterAll(cleanup);
const ca: CaHandle = createCa(join(dir, "ca"), { name: "Endpoint CA" });
const serverCert = (name: string) =>
  issueLeaf(ca, join(dir, "certs"), {
    name,
    extensions: ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
  });
const creds = { accessKeyId: "ASIAGATEWAY", secretAccessKey: "s", sessionToken: "t", expiration: new Date(Date.now() + 3600_000) };
const roles = (role: string) => (role === "gateway" ? { get: async () => creds } : undefined);
const TOKEN = "t".repeat(43);

const until = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("timed out");
};

describe("the ECS endpoint over TLS", () => {
  it("serves https with the given pair and swaps it when the files are rotated (..data swap), keeping it on a bad pair", async () => {
    const one = serverCert("one");
    const two = serverCert("two");
    const vol = join(dir, "tls");
    secretVolume(vol, { "tls.crt": readFileSync(one.certPath, "utf8"), "tls.key": readFileSync(one.keyPath, "utf8") }, 1);
    const lines: string[] = [];
    const server = await startCredentialServer({
      roles,
      ecs: { consumers: withRandomTokens([]) },
      host: "127.0.0.1",
      port: 0,
      tls: { certificate: join(vol, "tls.crt"), key: join(vol, "tls.key"), reloadIntervalMs: 20 },
      log: (l) => lines.push(l),
    });
    try {
      expect(server.url).toBe(`https://127.0.0.1:${server.port}`);
      expect(await servedSerial(server.port, ca.certPem)).toBe(one.serialDecimal);
      secretVolume(vol, { "tls.crt": readFileSync(two.certPath, "utf8"), "tls.key": readFileSync(two.keyPath, "utf8") }, 2);
      await until(async () => (await servedSerial(server.port, ca.certPem)) === two.serialDecimal);
      expect(lines).toContainEqual(expect.stringMatching(/^TLS certificate reloaded from .*tls\.crt \(valid until /));
      // Half a rotation: the key of another pair. Kept the previous one, said so once.
      secretVolume(vol, { "tls.crt": readFileSync(two.certPath, "utf8"), "tls.key": readFileSync(one.keyPath, "utf8") }, 3);
      await until(async () => lines.some((l) => /not reloaded.*does not belong/.test(l)));
      await new Promise((r) => setTimeout(r, 100));
      expect(lines.filter((l) => /not reloaded/.test(l))).toHaveLength(1);
      expect(await servedSerial(server.port, ca.certPem)).toBe(two.serialDecimal);
    } finally {
      await server.close();
    }
  });

  /** An ECS endpoint over TLS for the consumer with TOKEN, its certificate named `name`. */
  const startTlsEcs = (name: string) => {
    const pair = serverCert(name);
    const consumers = ecsConsumers([{ name: "app", role: "gateway", token: TOKEN }]);
    return startCredentialServer({ roles, ecs: { consumers }, host: "127.0.0.1", port: 0, tls: { certificate: pair.certPath, key: pair.keyPath } });
  };

  /** All the server answers to `requests`, written at once over TLS, until it closes the connection. */
  const exchange = (port: number, requests: string) =>
    new Promise<string>((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port, ca: ca.certPem }, () => s.end(requests));
      let text = "";
      s.on("data", (d: Buffer) => (text += d.toString("latin1")));
      s.on("close", () => resolve(text));
      s.on("error", reject);
    });

  it("refuses a request with two Host headers over TLS too, even with the consumer's token (before: served)", async () => {
    const server = await startTlsEcs("hosts");
    try {
      const ask = async (hosts: string[]) => {
        const lines = hosts.map((h) => `Host: ${h}\r\n`).join("");
        const text = await exchange(server.port, `GET ${ECS_PATH} HTTP/1.1\r\n${lines}Authorization: ${TOKEN}\r\nConnection: close\r\n\r\n`);
        return text.split("\r\n")[0]!;
      };
      const good = `127.0.0.1:${server.port}`;
      expect(await ask([good])).toBe("HTTP/1.1 200 OK");
      expect(await ask([good, `rebind.example:${server.port}`])).toBe("HTTP/1.1 403 Forbidden");
    } finally {
      await server.close();
    }
  });

  it("closes a connection at a request with a body or 64 header lines, or one sent before the previous one's answer, over TLS too", async () => {
    // The guard hooks the parser of the TLS socket (secureConnection), not of the TCP one under it, which has none.
    const server = await startTlsEcs("costly");
    try {
      const statuses = async (requests: string) =>
        [...(await exchange(server.port, requests)).matchAll(/^HTTP\/1\.1 (\d+)/gm)].map((m) => m[1]!);
      const get = (extra = "") => `GET ${ECS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nAuthorization: ${TOKEN}\r\n${extra}\r\n`;
      expect(await statuses(get())).toEqual(["200"]);
      expect(await statuses(get("Content-Length: 1\r\n") + "a")).toEqual(["400"]);
      // 64 header lines: 431 on every Node (Node 20 from the guard, 22 and 24 from their parser).
      expect(await statuses(get(Array.from({ length: 62 }, (_, i) => `X-${i}: v\r\n`).join("")))).toEqual(["431"]);
      // One answer, not five: a 400 here, as the first one's (an async role's) was not out yet when the second came.
      expect(await statuses(get().repeat(5))).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it("refuses to start with a key that does not belong to the certificate", async () => {
    const one = serverCert("three");
    const two = serverCert("four");
    await expect(
      startCredentialServer({ roles, ecs: { consumers: ecsConsumers([]) }, host: "127.0.0.1", port: 0, tls: { certificate: one.certPath, key: two.keyPath } }),
    ).rejects.toMatchObject({ code: "KEY_CERTIFICATE_MISMATCH" });
  });

  it("keeps IMDS off TLS, and plain HTTP off the network unless allowed", () => {
    const base = { allowImdsWithEcs: false };
    expect(() => checkEndpointChoice({ ...base, imds: true, ecs: false, host: "127.0.0.1", tls: true })).toThrow(/IMDS endpoint is plain HTTP on loopback/);
    expect(() => checkEndpointChoice({ ...base, imds: false, ecs: true, host: "10.42.0.7" })).toThrow(/in clear/);
    expect(() => checkEndpointChoice({ ...base, imds: false, ecs: true, host: "0.0.0.0" })).toThrow(/in clear/);
    expect(() => checkEndpointChoice({ ...base, imds: false, ecs: true, host: "10.42.0.7", tls: true })).not.toThrow();
    expect(() => checkEndpointChoice({ ...base, imds: false, ecs: true, host: "10.42.0.7", allowPlainHttp: true })).not.toThrow();
    expect(() => checkEndpointChoice({ ...base, imds: false, ecs: true, host: "127.0.0.1" })).not.toThrow();
  });
});

describe("ECS consumer tokens from files (--ecs-token-dir)", () => {
  it("reads DIR/NAME per consumer, follows a rotation, and keeps the previous tokens when a file goes bad", async () => {
    const vol = join(dir, "tokens");
    secretVolume(vol, { app: TOKEN }, 1);
    const lines: string[] = [];
    const files = await openEcsTokenFiles(vol, [{ name: "app", role: "gateway" }], (l) => lines.push(l), 60_000);
    try {
      expect(files.find(TOKEN)).toMatchObject({ name: "app", role: "gateway" });
      const server = await startCredentialServer({ roles, ecs: { consumers: files }, host: "127.0.0.1", port: 0 });
      try {
        expect((await new Promise<number>((r) => httpRequest(`http://127.0.0.1:${server.port}${ECS_PATH}`, { headers: { authorization: TOKEN } }, (res) => r(res.statusCode!)).end()))).toBe(200);
      } finally {
        await server.close();
      }
      const next = "n".repeat(40);
      secretVolume(vol, { app: next }, 2);
      await files.reload();
      expect(files.find(TOKEN)).toBeUndefined();
      expect(files.find(next)).toMatchObject({ name: "app" });
      expect(lines).toContain(`ECS consumer tokens reloaded from ${vol}`);
      await files.reload(); // unchanged: said once, not every 5 s
      expect(lines.filter((l) => l.startsWith("ECS consumer tokens reloaded"))).toHaveLength(1);
      secretVolume(vol, { app: `${next}x\n` }, 3);
      for (let i = 0; i < 3; i++) await files.reload();
      expect(files.find(next)).toMatchObject({ name: "app" });
      expect(lines.filter((l) => /not reloaded.*final newline/.test(l))).toHaveLength(1);
    } finally {
      files.stop();
    }
  });

  it("re-reads one set at a time: a FIFO put in a token's place holds one thread-pool thread, not one per tick", async () => {
    // Before: a re-read every tick, each waiting up to 30 s on the FIFO, took all 4 of libuv's pool threads:
    // a readFile (as signing off-thread, or a DNS lookup) waited ~25 s.
    const vol = join(dir, "fifo-tokens");
    mkdirSync(vol);
    writeFileSync(join(vol, "app"), TOKEN, { mode: 0o600 });
    const files = await openEcsTokenFiles(vol, [{ name: "app", role: "gateway" }], () => {}, 10);
    rmSync(join(vol, "app"));
    execFileSync("mkfifo", ["-m", "600", join(vol, "app")]);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const pool = readFile(ca.certPath).then(() => "read");
      expect(await Promise.race([pool, new Promise((r) => setTimeout(() => r("thread pool full"), 2_000))])).toBe("read");
    } finally {
      files.stop();
      // Wakes the opens that wait for a writer (opening the write end succeeds while a reader waits).
      try {
        closeSync(openSync(join(vol, "app"), constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader waits
      }
    }
  });

  it("refuses a missing, short, spaced, newline-ended or group-writable token file", async () => {
    const open = (d: string) => openEcsTokenFiles(d, [{ name: "app", role: "gateway" }], () => {}, 60_000);
    await expect(open(join(dir, "nowhere"))).rejects.toMatchObject({ code: "FILE_NOT_FOUND", message: `--ecs-token-dir ${join(dir, "nowhere")} does not exist` });
    await expect(open("/")).rejects.toMatchObject({ message: "--ecs-token-dir / must name a directory below / (not a path ending in ..)" });
    await expect(open("/dev/null")).rejects.toMatchObject({ message: "--ecs-token-dir /dev/null is not a directory" });
    for (const [i, content] of ["short", `${TOKEN} x`, `${TOKEN}\n`].entries()) {
      const d = join(dir, `bad${i}`);
      mkdirSync(d);
      writeFileSync(join(d, "app"), content);
      await expect(open(d)).rejects.toMatchObject({ code: "FILE_UNSAFE" });
    }
    const d = join(dir, "writable");
    mkdirSync(d);
    writeFileSync(join(d, "app"), TOKEN);
    chmodSync(join(d, "app"), 0o664);
    await expect(open(d)).rejects.toMatchObject({ code: "FILE_UNSAFE", message: expect.stringMatching(/no one else can write/) });
    chmodSync(join(d, "app"), 0o644);
    const ok = await open(d);
    ok.stop();
    // The token never appears in the errors.
    await expect(open(join(dir, "bad1"))).rejects.not.toMatchObject({ message: expect.stringContaining(TOKEN) });
  });

  it("refuses a token directory others can write (they could swap a file for a link to one whose content they know)", async () => {
    // Before: only each token file was checked, not the directory that names it.
    const open = (d: string) => openEcsTokenFiles(d, [{ name: "app", role: "gateway" }], () => {}, 60_000);
    const d = join(dir, "open-volume");
    mkdirSync(d);
    writeFileSync(join(d, "known"), TOKEN, { mode: 0o600 });
    symlinkSync("known", join(d, "app"));
    chmodSync(d, 0o777);
    await expect(open(d)).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `--ecs-token-dir ${d} was not used: directory ${d} can be written by other users (mode 777)`,
    });
    chmodSync(d, 0o1777); // sticky, as a Secret volume with an fsGroup: others cannot replace what is there
    (await open(d)).stop();
    if (process.getuid?.() === 0) {
      // Another user's directory (mode 755): its owner put a link to a root-owned file whose content they know.
      chmodSync(d, 0o755);
      chownSync(d, 12345, 12345);
      await expect(open(d)).rejects.toMatchObject({
        code: "FILE_UNSAFE",
        message: `--ecs-token-dir ${d} was not used: directory ${d} belongs to uid 12345, not to this user (0) or root`,
      });
    }
  });

  it.runIf(process.getuid?.() === 0)("refuses a link another user put in a sticky token directory, whatever it points to", async () => {
    // Before: followed, so a group member of a 1770 volume (no fs.protected_symlinks there) set the token to the text of
    // a root-owned file they can read: the link's target passed the owner and mode checks.
    const open = (d: string) => openEcsTokenFiles(d, [{ name: "app", role: "gateway" }], () => {}, 60_000);
    const d = join(dir, "shared-volume");
    mkdirSync(d);
    const known = join(dir, "known-to-all");
    writeFileSync(known, TOKEN, { mode: 0o644 });
    symlinkSync(known, join(d, "app"));
    lchownSync(join(d, "app"), 12345, 12345);
    chmodSync(d, 0o1770);
    await expect(open(d)).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `token file ${d}/app of ECS consumer app was not used: symbolic link ${d}/app belongs to uid 12345, not to this user (0) or root`,
    });
    lchownSync(join(d, "app"), 0, 0); // root's own link, as the kubelet's: followed
    (await open(d)).stop();
  });

  it.runIf(process.getuid?.() === 0)("refuses another user's FIFO in a sticky token directory without opening it", async () => {
    // Before: opened and polled for 30 s (start-up waited that long, a reload held a thread), then refused.
    const d = join(dir, "fifo-volume");
    mkdirSync(d);
    execFileSync("mkfifo", ["-m", "644", join(d, "app")]);
    lchownSync(join(d, "app"), 12345, 12345);
    chmodSync(d, 0o1770);
    const opening = openEcsTokenFiles(d, [{ name: "app", role: "gateway" }], () => {}, 60_000);
    let reader = "none";
    try {
      closeSync(openSync(join(d, "app"), constants.O_WRONLY | constants.O_NONBLOCK)); // ENXIO while no reader has it open
      reader = "serve";
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe("ENXIO");
    }
    expect(reader).toBe("none");
    await expect(opening).rejects.toMatchObject({ code: "FILE_UNSAFE", message: expect.stringMatching(/it must be a regular file of root or uid 0 .*\(it is uid 12345, mode 644\)$/) });
  });

  it.runIf(process.getuid?.() === 0)("refuses another user's regular token file in a sticky directory: she knows the token", async () => {
    // A mutant that dropped the owner test took it: a member of a 1770 volume's group set a consumer's token.
    const open = (d: string) => openEcsTokenFiles(d, [{ name: "app", role: "gateway" }], () => {}, 60_000);
    const d = join(dir, "planted-volume");
    mkdirSync(d);
    writeFileSync(join(d, "app"), TOKEN, { mode: 0o644 });
    chownSync(join(d, "app"), 12345, 12345);
    chmodSync(d, 0o1770);
    await expect(open(d)).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `token file ${d}/app of ECS consumer app was not used: it must be a regular file of root or uid 0 that no one else can write (it is uid 12345, mode 644)`,
    });
  });

  it("says which token file is missing, takes 32 characters, and leaves no descriptor open per reload", async () => {
    const open = (d: string) => openEcsTokenFiles(d, [{ name: "app", role: "gateway" }], () => {}, 60_000);
    const d = join(dir, "reload-volume");
    mkdirSync(d);
    await expect(open(d)).rejects.toMatchObject({
      code: "FILE_NOT_FOUND", message: `token file ${join(d, "app")} of ECS consumer app cannot be read: ENOENT`,
    });
    await expect(open("/dev/null")).rejects.toMatchObject({ code: "FILE_UNREADABLE" });
    symlinkSync("app", join(d, "app")); // a link to itself: there, but not readable
    await expect(open(d)).rejects.toMatchObject({ code: "FILE_UNREADABLE", message: `token file ${join(d, "app")} of ECS consumer app cannot be read: ELOOP` });
    rmSync(join(d, "app"));
    writeFileSync(join(d, "app"), "x".repeat(31), { mode: 0o600 });
    await expect(open(d)).rejects.toMatchObject({ code: "FILE_UNSAFE", message: expect.stringMatching(/does not hold a token/) });
    writeFileSync(join(d, "app"), "x".repeat(32), { mode: 0o600 });
    const files = await open(d);
    try {
      // serve re-reads the directory every 5 s: a descriptor left open per read, or per refused file, ends in EMFILE.
      // What stays open in the volume (other tests' sockets close meanwhile: no count).
      const held = () => readdirSync("/proc/self/fd").map((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`); } catch { return ""; } })
        .filter((target) => target.startsWith(d));
      for (let i = 0; i < 3; i++) await files.reload();
      chmodSync(join(d, "app"), 0o666);
      for (let i = 0; i < 3; i++) await files.reload();
      expect(held()).toEqual([]);
    } finally {
      files.stop();
    }
  });
});
