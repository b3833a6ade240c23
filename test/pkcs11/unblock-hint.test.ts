import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tokenFamily, unblockHint, type TokenFamily } from "../../src/pkcs11/unblock-hint.js";

const token = (manufacturer: string, model: string, label = "t") => ({ label, manufacturer, model, serial: "1" });
const YUBIKEY_READER = "Yubico YubiKey OTP+FIDO+CCID 00 00";

describe("tokenFamily: what the modules report", () => {
  it.each<[string, Parameters<typeof tokenFamily>[0], Parameters<typeof tokenFamily>[1], TokenFamily]>([
    ["ykcs11", { token: token("Yubico (www.yubico.com)", "YubiKey YK5"), slotDescription: YUBIKEY_READER }, { manufacturer: "Yubico (www.yubico.com)", description: "PKCS#11 PIV Library (SP-800-73)" }, "yubikey"],
    ["OpenSC's PIV driver on a YubiKey", { token: token("piv_II", "PKCS#15 emulated"), slotDescription: YUBIKEY_READER }, { manufacturer: "OpenSC Project", description: "OpenSC smartcard framework" }, "yubikey"],
    ["OpenSC's PIV driver on another card", { token: token("piv_II", "PKCS#15 emulated"), slotDescription: "Gemalto PC Twin Reader 00 00" }, { manufacturer: "OpenSC Project", description: "OpenSC smartcard framework" }, "piv"],
    ["SoftHSM", { token: token("SoftHSM project", "SoftHSM v2"), slotDescription: "SoftHSM slot ID 0x1" }, { manufacturer: "SoftHSM", description: "Implementation of PKCS11" }, "softhsm"],
    ["tpm2-pkcs11", { token: token("IBM", "SW   TPM"), slotDescription: "IBM" }, { manufacturer: "tpm2-software.github.io", description: "TPM2.0 Cryptoki" }, "tpm2-pkcs11"],
    ["NSS softokn", { token: token("Mozilla Foundation", "NSS 3"), slotDescription: "NSS User Private Key and Certificate Services" }, { manufacturer: "Mozilla Foundation", description: "NSS Internal Crypto Services" }, "other"],
  ])("%s", (_name, slot, library, family) => {
    expect(tokenFamily(slot, library)).toBe(family);
  });
});

describe("unblockHint", () => {
  const at = { label: "device", slotId: 1234n, modulePath: "/usr/lib/softhsm/libsofthsm2.so" };
  it("a YubiKey is unblocked with its PUK, never with pkcs11-tool --unlock-pin", () => {
    const hint = unblockHint("yubikey", at);
    expect(hint).toContain("ykman piv access unblock-pin");
    expect(hint).toContain("PUK");
    expect(hint).not.toContain("--unlock-pin");
  });

  it("SoftHSM: a new user PIN set by the SO, with the module and token filled in", () => {
    expect(unblockHint("softhsm", at)).toContain("pkcs11-tool --token-label device --login --login-type so --init-pin --module /usr/lib/softhsm/libsofthsm2.so");
  });

  it("tpm2-pkcs11: a new user PIN set by the SO through the module, asked for, never a PIN in argv (round 38; before: `tpm2_ptool initpin --sopin=… --userpin=…`)", () => {
    const hint = unblockHint("tpm2-pkcs11", at);
    expect(hint).toContain("pkcs11-tool --token-label device --login --login-type so --init-pin --module /usr/lib/softhsm/libsofthsm2.so");
    expect(hint).not.toMatch(/--(so|new-|user)pin[= ]/);
    expect(hint).not.toMatch(/--(so-pin|new-pin|pin)\b/);
    expect(hint).toContain("not `tpm2_ptool initpin`, which takes them as arguments that every local user can read in the process list");
  });

  it.each<TokenFamily>(["yubikey", "piv", "softhsm", "tpm2-pkcs11", "other"])("%s: no hint suggests OpenSC's --unlock-pin", (family) => {
    expect(unblockHint(family, at)).not.toContain("--unlock-pin");
  });

  it.each([
    ["softhsm" as const, /--token-label (.*) --login --login-type/],
    ["tpm2-pkcs11" as const, /--token-label (.*) --login --login-type/],
  ])("%s: a label with a quote is one shell word of the command to paste, running nothing", (family, where) => {
    // The label is the token's own text (any 32 bytes): `x'; touch …; '` closed the quotes and ran a command.
    const label = "x'; echo ran; '";
    const word = where.exec(unblockHint(family, { ...at, label }))![1]!;
    expect(execFileSync("sh", ["-c", `printf '%s|' ${word}`], { encoding: "utf8" })).toBe(`${label}|`);
  });

  it.each(["softhsm" as const, "tpm2-pkcs11" as const])("%s: a label with a newline is one word that prints as that label (before: a newline in the pasted command)", (family) => {
    const label = "a\nb";
    const word = /--token-label (.*) --login --login-type/.exec(unblockHint(family, { ...at, label }))![1]!;
    expect(word).not.toContain("\n");
    expect(execFileSync("bash", ["-c", `printf '%s|' ${word}`], { encoding: "utf8" })).toBe(`${label}|`);
  });

  it.each(["softhsm" as const, "tpm2-pkcs11" as const])("%s: a label read as U+FFFD (bytes not UTF-8) is not named: the slot is (before: `--token-label 'caf\ufffd'`, a label the token does not have)", (family) => {
    const hint = unblockHint(family, { ...at, label: "caf\ufffd" });
    expect(hint).toContain("pkcs11-tool --slot 1234 --login --login-type so --init-pin --module /usr/lib/softhsm/libsofthsm2.so");
    expect(hint).not.toContain("--token-label");
  });

  it("SoftHSM: the module's path is one word of the command too, running nothing (before: `--module /tmp/d$(touch pwned)/…` ran it)", () => {
    const dir = mkdtempSync(join(tmpdir(), "raa-unblock-"));
    try {
      const modulePath = `${dir}/d$(touch pwned)/lib.so`;
      const word = /--init-pin --module (.*)`/.exec(unblockHint("softhsm", { ...at, modulePath }))![1]!;
      expect(execFileSync("sh", ["-c", `printf '%s|' ${word}`], { cwd: dir, encoding: "utf8" })).toBe(`${modulePath}|`);
      expect(existsSync(join(dir, "pwned"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("SoftHSM: a module path too long to quote makes the pasted command a syntax error (before: its `>` redirected into the next word, and with a file named `path` there the command ran)", () => {
    const dir = mkdtempSync(join(tmpdir(), "raa-unblock-"));
    try {
      writeFileSync(join(dir, "path"), "");
      const command = /`(pkcs11-tool [^`]*)`/.exec(unblockHint("softhsm", { ...at, modulePath: `/opt/${"m".repeat(900)}/lib.so` }))![1]!;
      expect(command).toContain("<path too long to quote here>");
      const run = spawnSync("sh", ["-c", command.replace(/^pkcs11-tool/, "echo")], { cwd: dir, encoding: "utf8" });
      expect([run.status === 0, run.stdout]).toEqual([false, ""]);
      expect(readdirSync(dir)).toEqual(["path"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
