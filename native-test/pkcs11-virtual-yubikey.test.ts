/**
 * The YubiKey path without a YubiKey: the PIV card emulator (native-test/helpers/piv) behind vsmartcard's
 * vpcd and a private pcscd, used through OpenSC's PIV driver and through Yubico's ykcs11, by the bundled CLI
 * against the verifying local endpoint. The card is the judge of what the agent did to it: it counts PIN
 * presentations, its own retry counter and every signature (each one a touch on a touch-"always" key).
 */
import { createPublicKey, verify } from "node:crypto";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { fixedTestString } from "../src/signers/fixed-string.js";
import { bundleCli } from "./agent-support.js";
import { OPENSC_MODULE, startVirtualYubiKey, YKCS11_MODULE, type VirtualYubiKey } from "./helpers/piv/virtual-yubikey.js";
import { expectCredentialJson, SESSION_ARGS } from "./helpers/provisioning-support.js";
import { runCli, type CliRun } from "./helpers/run-cli.js";

const execFileAsync = promisify(execFile);

let yubikey: VirtualYubiKey;
let endpoint: LocalEndpoint;
let cli: { cli: string; cleanup: () => void };
let pinFile: string;

beforeAll(async () => {
  yubikey = await startVirtualYubiKey();
  endpoint = await startLocalEndpoint({ trustAnchors: [yubikey.ca.certPath], port: 0, region: "us-east-1" });
  cli = await bundleCli();
  pinFile = yubikey.pinFile();
});

afterAll(async () => {
  await endpoint?.close();
  cli?.cleanup();
  await yubikey?.stop();
});

interface Listed {
  readonly subject: string;
  readonly uri: string;
}

/** read-certificate-data's listing, parsed. */
function listing(stdout: string): Listed[] {
  return [...stdout.matchAll(/Subject: (.*)\n(?:.*\n)*?URI: (.*)\n/g)].map((m) => ({ subject: m[1]!, uri: m[2]! }));
}

/** With two of three tries left, ykcs11 sets CKF_USER_PIN_COUNT_LOW; OpenSC sets nothing until one is left. */
const MODULES = [
  { name: "OpenSC (opensc-pkcs11.so)", module: OPENSC_MODULE, afterOneWrongPin: "the token reports no retry-counter warning" },
  { name: "Yubico ykcs11", module: YKCS11_MODULE, afterOneWrongPin: "more than one try left (CKF_USER_PIN_COUNT_LOW)" },
] as const;

describe.each(MODULES)("virtual YubiKey through $name", ({ module, afterOneWrongPin }) => {
  const agent = (args: string[]): Promise<CliRun> => runCli(cli.cli, [...args, "--pkcs11-lib", module], yubikey.env);
  let slotUri: Map<string, string>;

  it("read-certificate-data lists the certificates of slots 9a, 9c, 9d and 9e, and no attestation certificate", async () => {
    const r = await agent(["read-certificate-data", "--certificate", "pkcs11:"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const entries = listing(r.stdout);
    expect(entries.map((e) => e.subject).sort()).toEqual(["CN=virtual-yubikey-9a", "CN=virtual-yubikey-9c", "CN=virtual-yubikey-9d", "CN=virtual-yubikey-9e"]);
    expect(r.stdout).not.toMatch(/Attestation/i);
    slotUri = new Map(entries.map((e) => [e.subject.slice(-2), e.uri]));
  });

  it("credential-process with the slot 9a key (touch always): exactly one signature, one PIN presentation", async () => {
    const card = yubikey.card;
    const [signaturesBefore, pinsBefore, issuedBefore] = [card.signatures(0x9a), card.pinPresentations().ok, endpoint.issued.length];
    const r = await agent(["credential-process", "--certificate", slotUri.get("9a")!, "--pkcs11-pin-file", pinFile, ...SESSION_ARGS, "--endpoint", endpoint.url]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expectCredentialJson(r.stdout);
    expect(endpoint.issued.length).toBe(issuedBefore + 1);
    expect(card.signatures(0x9a) - signaturesBefore).toBe(1);
    expect(card.pinPresentations().ok - pinsBefore).toBe(1);
  });

  it("credential-process with the slot 9c key (PIN before every signature): --reuse-pin, then a context PIN file", async () => {
    const card = yubikey.card;
    for (const pinArgs of [["--reuse-pin"], ["--pkcs11-context-pin-file", pinFile]]) {
      const [signaturesBefore, issuedBefore] = [card.signatures(0x9c), endpoint.issued.length];
      const r = await agent(["credential-process", "--certificate", slotUri.get("9c")!, "--pkcs11-pin-file", pinFile, ...pinArgs, ...SESSION_ARGS, "--endpoint", endpoint.url]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expectCredentialJson(r.stdout);
      expect(endpoint.issued.length).toBe(issuedBefore + 1);
      expect(card.signatures(0x9c) - signaturesBefore).toBe(1);
    }
  });

  it.each([
    ["9a", 0x9a, "SHA256"],
    ["9d (P-384)", 0x9d, "SHA384"],
  ] as const)("sign-string with the slot %s key verifies against the slot's certificate", async (_name, slot, digest) => {
    const r = await agent(["sign-string", "--certificate", slotUri.get(slot.toString(16))!, "--pkcs11-pin-file", pinFile, "--format", "text", "--digest", digest]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const key = createPublicKey(readFileSync(yubikey.certificates.get(slot)!));
    expect(verify(digest.toLowerCase(), fixedTestString(key), key, Buffer.from(r.stdout.trim(), "hex"))).toBe(true);
  });

  it("a wrong PIN is presented once and reported with the tries the card has left; the card's counter is the judge", async () => {
    const card = yubikey.card;
    expect(card.pinRetries).toBe(3);
    const failedBefore = card.pinPresentations().failed;
    // 8 digits (a PIV PIN has 6 to 8), above every serial (10000000 to 26777215, which ykcs11 prints in the message):
    // "654321" was in 37 of those 16.7 million serials.
    const wrongPin = "65432198";
    const r = await agent(["credential-process", "--certificate", slotUri.get("9a")!, "--pkcs11-pin-file", yubikey.pinFile(wrongPin), ...SESSION_ARGS, "--endpoint", endpoint.url]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("CKR_PIN_INCORRECT");
    expect(r.stderr).toContain(afterOneWrongPin);
    expect(r.stderr).not.toContain(wrongPin);
    expect(card.pinPresentations().failed - failedBefore).toBe(1);
    expect(card.pinRetries).toBe(2);
    // A right PIN afterwards resets the counter.
    const ok = await agent(["sign-string", "--certificate", slotUri.get("9a")!, "--pkcs11-pin-file", pinFile]);
    expect(ok.code).toBe(0);
    expect(card.pinRetries).toBe(3);
  });

  it("a blocked PIN: counted down to 0 one run at a time, then refused without presenting it, with the YubiKey's unblock hint", async () => {
    try {
      await blockedPin();
    } finally {
      if (yubikey.card.pinRetries === 0) await unblockWithPuk();
    }
  });

  async function unblockWithPuk(): Promise<void> {
    await execFileAsync("yubico-piv-tool", ["--reader=Yubico", "--action=unblock-pin", `--pin=${yubikey.puk}`, `--new-pin=${yubikey.pin}`], { env: yubikey.env });
  }

  async function blockedPin(): Promise<void> {
    const card = yubikey.card;
    const wrong = yubikey.pinFile("000000");
    const messages: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await agent(["sign-string", "--certificate", slotUri.get("9a")!, "--pkcs11-pin-file", wrong]);
      expect(r.code).toBe(4);
      messages.push(r.stderr);
    }
    expect(card.pinRetries).toBe(0);
    expect(messages[1]).toContain("one try left before the PIN locks (CKF_USER_PIN_FINAL_TRY)");
    // The try that blocks the PIN already says how to unblock it.
    expect(messages[2]).toContain("ykman piv access unblock-pin");
    const presented = card.pinPresentations();
    const blocked = await agent(["credential-process", "--certificate", slotUri.get("9a")!, "--pkcs11-pin-file", pinFile, ...SESSION_ARGS, "--endpoint", endpoint.url]);
    expect(blocked.code).toBe(4);
    expect(blocked.stderr).toMatch(/PIN of .* is (locked|blocked)/);
    expect(blocked.stderr).toContain("ykman piv access unblock-pin");
    expect(blocked.stderr).not.toContain("pkcs11-tool --unlock-pin");
    expect(card.pinPresentations()).toEqual(presented);

    // What the hint says works: the PUK unblocks the PIN (yubico-piv-tool talks to the same card).
    await unblockWithPuk();
    expect(card.pinRetries).toBe(3);
    const again = await agent(["sign-string", "--certificate", slotUri.get("9a")!, "--pkcs11-pin-file", pinFile]);
    expect(again.code).toBe(0);
  }
});
