/**
 * keygen never sends the owner hierarchy's or a persistent parent's password in clear: a relay in front of a real
 * swtpm (helpers/tpm-proxy.ts) keeps every byte keygen writes, as a bus sniffer would, and no password may appear
 * in them. The control runs tpm2_changeauth through the same relay: it sends the new owner password as a plain
 * parameter, so the capture is known to see a password that travels in clear. No transient object or session may be left behind.
 */
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateTpmKey, type TpmKeyTarget } from "../src/provisioning/tpm/tpm-keygen.js";
import { parseKeySpec } from "../src/provisioning/key-spec.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";
import { persistSrk, sessionHandles, transientHandles } from "./helpers/tpm-keys.js";
import { startTpmProxy, type TpmProxy } from "./helpers/tpm-proxy.js";

const OWNER_PW = "owner-Bus-secret";
const PARENT_PW = "parent-Bus-secret";
const KEY_PW = "key-Bus-secret";
const PARENT = 0x81000002;
const OWNER = 0x40000001;

let tpm: Swtpm;
let proxy: TpmProxy;
let relayTcti: string;

beforeAll(async () => {
  tpm = await startSwtpm();
  await persistSrk(tpm, PARENT, { password: PARENT_PW });
  proxy = await startTpmProxy(tpm.dir, tpm.socketPath!);
  const relayPath = proxy.device.slice("unix:".length);
  // tpm2-tss's swtpm TCTI also opens "<path>.ctrl": that control channel goes straight to the swtpm.
  symlinkSync(`${tpm.socketPath}.ctrl`, `${relayPath}.ctrl`);
  relayTcti = `swtpm:path=${relayPath}`;
});

afterAll(async () => {
  await proxy?.close();
  await tpm?.stop();
});

const secret = (value: string | undefined) => (value === undefined ? undefined : { kind: "value" as const, value });

/** Runs keygen through the relay; returns every byte it wrote to the TPM. */
async function keygenBytes(target: TpmKeyTarget, o: { parent?: number; parentPassword?: string; keyPassword?: string; ownerPassword?: string }): Promise<Buffer> {
  const from = proxy.written.length;
  await generateTpmKey({
    target,
    spec: parseKeySpec("p256"),
    device: proxy.device,
    env: {},
    parent: o.parent,
    parentPassword: secret(o.parentPassword),
    keyPassword: secret(o.keyPassword),
    ownerPassword: secret(o.ownerPassword),
  });
  await expectNothingLeft();
  return Buffer.concat(proxy.written.slice(from));
}

async function expectNothingLeft(): Promise<void> {
  expect(await transientHandles(tpm)).toEqual([]);
  expect(await sessionHandles(tpm)).toEqual([]);
}

function expectNoPassword(bytes: Buffer): void {
  expect(bytes.length).toBeGreaterThan(50);
  for (const pw of [OWNER_PW, PARENT_PW, KEY_PW]) expect(bytes.includes(Buffer.from(pw)), `${pw} seen on the wire`).toBe(false);
}

const file = (name: string): TpmKeyTarget => ({ kind: "file", path: join(tpm.dir, `${name}.tss2`), overwrite: false });

describe("owner hierarchy password (owner SRK, EvictControl)", () => {
  let changeauthBytes: Buffer;
  beforeAll(async () => {
    const from = proxy.written.length;
    await tpm.run("tpm2_changeauth", ["-c", "owner", OWNER_PW], { env: { TPM2TOOLS_TCTI: relayTcti } });
    changeauthBytes = Buffer.concat(proxy.written.slice(from));
  });
  afterAll(() => tpm.run("tpm2_changeauth", ["-c", "owner", "-p", OWNER_PW]));

  it("control: the relay sees the new owner password, which tpm2_changeauth sends in clear (newAuth, unencrypted)", () => {
    expect(changeauthBytes.includes(Buffer.from(OWNER_PW))).toBe(true);
  });

  it("a key file under the owner SRK, without and with a key password", async () => {
    expectNoPassword(await keygenBytes(file("owner-nopw"), { parentPassword: OWNER_PW }));
    expectNoPassword(await keygenBytes(file("owner-pw"), { parentPassword: OWNER_PW, keyPassword: KEY_PW }));
  });

  it("a persistent handle (EvictControl with the owner password)", async () => {
    expectNoPassword(await keygenBytes({ kind: "handle", handle: 0x81000030 }, { parentPassword: OWNER_PW }));
    expect(await tpm.run("tpm2_getcap", ["handles-persistent"])).toContain("0x81000030");
    await tpm.run("tpm2_evictcontrol", ["-C", "o", "-P", OWNER_PW, "-c", "0x81000030", "-Q"]);
  });

  it("a persistent handle under a password-protected persistent parent (Load with its password, EvictControl with the owner's)", async () => {
    const target = { kind: "handle" as const, handle: 0x81000032 };
    expectNoPassword(await keygenBytes(target, { parent: PARENT, parentPassword: PARENT_PW, ownerPassword: OWNER_PW }));
    expect(await tpm.run("tpm2_getcap", ["handles-persistent"])).toContain("0x81000032");
    await tpm.run("tpm2_evictcontrol", ["-C", "o", "-P", OWNER_PW, "-c", "0x81000032", "-Q"]);
  });

  it.each([
    [undefined, "--tpm-owner-password"],
    ["options" as const, "ownerPassword"],
  ])("a wrong owner password under a persistent parent is refused once, naming it (names: %s)", async (names, option) => {
    const target = { kind: "handle" as const, handle: 0x81000033 };
    const options = { target, spec: parseKeySpec("p256"), device: proxy.device, env: {}, parent: PARENT, names };
    const err = await generateTpmKey({ ...options, parentPassword: secret(PARENT_PW), ownerPassword: secret("guess") }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "TPM_AUTH_FAILED", message: "making the key persistent at 0x81000033: the TPM refused the parent or owner password (TPM_RC_BAD_AUTH)" });
    expect((err as { hint?: string }).hint).toBe(`give it with ${option}; it is not retried`);
    await expectNothingLeft();
  });

  it.each([
    [undefined, "--tpm-parent-password"],
    ["options" as const, "parentPassword"],
  ])("a wrong owner password is refused once with the same message, and nothing is left behind (names: %s)", async (names, option) => {
    const err = await generateTpmKey({ target: file("owner-wrong"), spec: parseKeySpec("p256"), device: proxy.device, env: {}, parentPassword: secret("guess"), names }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "TPM_AUTH_FAILED", message: "wrong password for the TPM owner hierarchy (TPM_RC_BAD_AUTH, rc 0x9a2)" });
    expect((err as { hint?: string }).hint).toBe(`give the hierarchy password with ${option}; it is not retried`);
    await expectNothingLeft();
  });
});

describe("password-protected persistent parent", () => {
  it("a key file without a key password (Create)", async () => {
    expectNoPassword(await keygenBytes(file("parent-nopw"), { parent: PARENT, parentPassword: PARENT_PW }));
  });

  it("a key file with a key password (Create)", async () => {
    expectNoPassword(await keygenBytes(file("parent-pw"), { parent: PARENT, parentPassword: PARENT_PW, keyPassword: KEY_PW }));
  });

  it("a persistent handle (Load under the parent)", async () => {
    expectNoPassword(await keygenBytes({ kind: "handle", handle: 0x81000031 }, { parent: PARENT, parentPassword: PARENT_PW }));
    await tpm.run("tpm2_evictcontrol", ["-C", "o", "-c", "0x81000031", "-Q"]);
  });

  it.each([
    [undefined, "--tpm-parent-password"],
    ["options" as const, "parentPassword"],
  ])("a wrong parent password is refused once with the same message, and nothing is left behind (names: %s)", async (names, option) => {
    const err = await generateTpmKey({
      target: file("parent-wrong"),
      spec: parseKeySpec("p256"),
      device: proxy.device,
      env: {},
      parent: PARENT,
      parentPassword: secret("guess"),
      names,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "TPM_AUTH_FAILED", message: "creating the key: the TPM refused the parent or owner password (TPM_RC_BAD_AUTH)" });
    expect((err as { hint?: string }).hint).toBe(`give it with ${option}; it is not retried`);
    await expectNothingLeft();
  });
});

describe("no password", () => {
  it("an empty owner password still travels as TPM_RS_PW (nothing secret to protect)", async () => {
    const from = proxy.commands.length;
    const bytes = await keygenBytes(file("owner-empty"), { parent: OWNER });
    expect(bytes.includes(Buffer.from("0000000940000009000001" + "0000", "hex"))).toBe(true);
    // No HMAC session (and no temporary primary to salt it): CreatePrimary of the SRK, then Create under it.
    expect(proxy.commands.slice(from).filter((c) => c !== 0x165)).toEqual([0x131, 0x153]); // FlushContext aside
  });
});

describe("the connection lost at TPM2_Create", () => {
  it("is the connection's error (not an internal error), and nothing is left behind", async () => {
    const fired = proxy.arm({ command: 0x153, action: "drop" });
    const err = await generateTpmKey({ target: file("lost"), spec: parseKeySpec("p256"), device: proxy.device, env: {} }).catch((e: unknown) => e);
    await fired;
    expect(err).toMatchObject({ code: "TPM_ERROR", message: expect.stringMatching(/^the TPM at unix:\S+ closed the connection$/) });
    await expectNothingLeft();
  });
});
