import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AgentError, InputError, type DeviceError } from "../../src/errors.js";
import { Secret } from "../../src/secrets/secret.js";
import { CKF } from "../../src/pkcs11/constants.js";
import type { TokenContext } from "../../src/pkcs11/objects.js";
import {
  RememberedPin, describePinFlags, loginContextSpecific, loginUser, pinFromSource, pinFromUri,
  userPinPrompt, type PinSupply,
} from "../../src/pkcs11/pin.js";
import { parsePkcs11Uri } from "../../src/pkcs11/uri.js";
import { forgetRejectedSecrets } from "../../src/secrets/rejected-secrets.js";
import { makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-pkcs11-pin-");
afterAll(cleanup);
const pinFile = join(dir, "pin");
writeFileSync(pinFile, "4321\n");
const colonFile = join(dir, "token:pin"); // a colon in the path is no URI scheme
writeFileSync(colonFile, "4321\n");
const emptyFile = join(dir, "empty");
writeFileSync(emptyFile, "", { mode: 0o600 });
const newlineFile = join(dir, "newline");
writeFileSync(newlineFile, "\n", { mode: 0o600 });

const uriPin = (uri: string): PinSupply => pinFromUri(parsePkcs11Uri(uri).pin!);

describe("PIN from the URI", () => {
  it.each([
    [`pkcs11:object=k?pin-source=${pinFile}`, pinFile],
    [`pkcs11:object=k?pin-source=file:${pinFile}`, pinFile],
    [`pkcs11:object=k?pin-source=file://${pinFile}`, pinFile],
    [`pkcs11:object=k?pin-source=${colonFile}`, colonFile],
  ])("pin-source %s reads the file without its trailing newline", async (uri, path) => {
    const supply = uriPin(uri);
    expect(supply.description).toBe(`pin-source file ${path}`);
    expect((await supply.read()).reveal()).toBe("4321");
  });

  it("pin-value, percent-decoded, handed out as copies", async () => {
    const supply = uriPin("pkcs11:object=k?pin-value=12%2634");
    const a = await supply.read();
    a.wipe();
    expect((await supply.read()).reveal()).toBe("12&34");
    expect(supply.description).not.toContain("12");
  });

  it("a pin-source with another scheme is refused", () => {
    expect(() => uriPin("pkcs11:object=k?pin-source=env:PIN")).toThrow(/not supported/);
  });

  it.each([["file://server/pin"], ["file:///run/a%252Fb"]])("a file URI that names no local path (%s) is an invalid URI, not an internal error", (source) => {
    expect(() => uriPin(`pkcs11:object=k?pin-source=${source}`)).toThrow(expect.objectContaining({ code: "PKCS11_URI_INVALID" }));
  });

  it("a missing PIN file is named", async () => {
    const error = await uriPin(`pkcs11:object=k?pin-source=${join(dir, "nope")}`).read().catch((e: AgentError) => e);
    expect((error as AgentError).code).toBe("FILE_NOT_FOUND");
    expect((error as AgentError).message).toBe(`the URI's pin-source: file ${join(dir, "nope")} does not exist`);
  });
});

describe("PIN from options", () => {
  it("env sources read the environment given, not process.env", async () => {
    const supply = pinFromSource({ kind: "env", name: "MY_PIN" }, "the PIN", { MY_PIN: "1111" });
    expect((await supply.read()).reveal()).toBe("1111");
    await expect(pinFromSource({ kind: "env", name: "MY_PIN" }, "the PIN", {}).read()).rejects.toThrow(/MY_PIN is not set/);
  });

  it("prompt sources refuse without a terminal", async () => {
    const supply = pinFromSource({ kind: "prompt", prompt: "PIN: " }, "the PIN", {});
    await expect(supply.read()).rejects.toThrow(/no terminal/);
  });

  it("with prompting off (SignerOptions.prompt false) no PIN is asked for: PASSWORD_REQUIRED naming pkcs11.pin", () => {
    const token = { label: "t", manufacturer: "m", model: "x", serial: "1" };
    const slot = { handle: Buffer.from([1]), slotId: 1n, slotDescription: "", slotManufacturer: "", token, flags: 0 };
    expect(() => userPinPrompt(slot, false, "pkcs11.pin")).toThrow(expect.objectContaining({
      code: "PASSWORD_REQUIRED",
      message: 'the user PIN of token "t" (serial 1) is needed but asking on the terminal is off',
      hint: expect.stringMatching(/^set pkcs11\.pin: /),
    }));
    expect(userPinPrompt(slot, undefined, "pkcs11.pin")).toMatchObject({ description: "a prompt on the terminal" });
  });
});

describe("RememberedPin", () => {
  it("reads its source once, hands out independent copies, and forgets on wipe", async () => {
    let reads = 0;
    const remembered = new RememberedPin({
      description: "test",
      read: async () => {
        reads++;
        return (await uriPin("pkcs11:?pin-value=999").read());
      },
    });
    const first = await remembered.read();
    first.wipe();
    expect((await remembered.read()).reveal()).toBe("999");
    expect(remembered.peek()?.reveal()).toBe("999");
    expect(reads).toBe(1);
    remembered.wipe();
    expect(remembered.peek()).toBeUndefined();
    remembered.wipe(); // twice (a signer's close after its build was abandoned) is no TypeError
    new RememberedPin(remembered).wipe();
  });
});

describe("describePinFlags", () => {
  it.each([
    [0x0, /no retry-counter warning/],
    [0x10000, /CKF_USER_PIN_COUNT_LOW/],
    [0x30000, /one try left.*CKF_USER_PIN_FINAL_TRY/],
    [0x70000, /locked.*CKF_USER_PIN_LOCKED/],
    [undefined, /could not be read/],
  ])("flags %s", (flags, text) => {
    expect(describePinFlags(flags)).toMatch(text);
  });
});

describe("loginUser", () => {
  beforeEach(forgetRejectedSecrets); // the stand-in tokens below share a name and PIN
  /** A token whose C_Login answers `ckr` (thrown as pkcs11js does: "CKR_NAME:decimal"); flags as C_GetTokenInfo gives them. */
  function tokenAnswering(ckr: string, flags: number): { context: TokenContext; logins: unknown[][] } {
    const logins: unknown[][] = [];
    const lib = {
      C_GetTokenInfo: () => ({ flags }),
      C_Login: (...args: unknown[]) => {
        logins.push(args);
        throw new Error(ckr);
      },
    };
    const token = { label: "pad", manufacturer: "m", model: "x", serial: "1" };
    const slot = { handle: Buffer.from([1]), slotId: 1n, slotDescription: "", slotManufacturer: "", token, flags };
    const module = { lib, info: { manufacturerId: "m", libraryDescription: "d" }, path: "/m.so" };
    return { context: { module, slot, session: Buffer.from([2]), generation: 0 } as unknown as TokenContext, logins };
  }

  it.each([
    ["CKR_GENERAL_ERROR:5", 0],
    ["CKR_USER_PIN_NOT_INITIALIZED:258", CKF.USER_PIN_INITIALIZED],
  ])("on SoftHSM, %s (another process rewriting the token file) says to try again, and C_Login is not repeated", async (ckr, flags) => {
    // Two processes logging in to one SoftHSM token fail about once in 150 runs; before, CKR_GENERAL_ERROR had no
    // hint and CKR_USER_PIN_NOT_INITIALIZED said to set a new user PIN as the security officer.
    const { context, logins } = tokenAnswering(ckr, flags);
    (context.module as { info: unknown }).info = { manufacturer: "SoftHSM", description: "Implementation of PKCS11" };
    const supply = pinFromSource({ kind: "env", name: "P" }, "the PIN", { P: "1234" });
    const error = (await loginUser(context, supply).catch((e: unknown) => e)) as DeviceError;
    expect(error.message).toBe(`C_Login on token "pad" (serial 1) failed: ${ckr.split(":")[0]}`);
    expect(error.hint).toBe("the module keeps its tokens in files, and another process logging in at the same moment may have been "
      + "rewriting this one: try again (C_Login is never repeated by itself)");
    expect(logins).toHaveLength(1);
    // A token listed without a user PIN has none: the security officer's command stays the hint.
    const unset = tokenAnswering("CKR_USER_PIN_NOT_INITIALIZED:258", 0);
    (unset.context.module as { info: unknown }).info = { manufacturer: "SoftHSM", description: "Implementation of PKCS11" };
    await expect(loginUser(unset.context, supply)).rejects.toMatchObject({ hint: expect.stringMatching(/--login-type so --init-pin/) });
  });

  it("names a rejected PIN's source in words true of the CLI, a config file and the SDK's options alike", async () => {
    const { context } = tokenAnswering("CKR_PIN_INCORRECT:160", 0);
    const supply = pinFromSource({ kind: "value", value: "1234" }, "the PIN", {});
    const error = (await loginUser(context, supply).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/^token "pad" \(serial 1\) rejected the PIN from a value given directly \(CKR_PIN_/);
  });

  it.each([
    ["a PIN", pinFromSource({ kind: "env", name: "P" }, "the PIN", { P: "1234" })],
    ["the PIN pad", undefined],
  ])("counts CKR_USER_ALREADY_LOGGED_IN (another session of this process logged in) as success, with %s", async (_, supply) => {
    const { context, logins } = tokenAnswering("CKR_USER_ALREADY_LOGGED_IN:256", CKF.PROTECTED_AUTHENTICATION_PATH);
    await expect(loginUser(context, supply)).resolves.toBeUndefined();
    expect(logins).toHaveLength(1);
  });

  it.each([
    ["an empty --pkcs11-pin-file", pinFromSource({ kind: "file", path: emptyFile }, "the PIN", {}), `file ${emptyFile}`],
    ["a file holding only a newline", pinFromSource({ kind: "file", path: newlineFile }, "the PIN", {}), `file ${newlineFile}`],
    ["an empty --pkcs11-pin-env", pinFromSource({ kind: "env", name: "P" }, "the PIN", { P: "" }), "environment variable P"],
    ["an empty pin-value=", uriPin("pkcs11:object=k?pin-value="), "pin-value in the URI"],
    ["a pin-source= naming an empty file", uriPin(`pkcs11:object=k?pin-source=${emptyFile}`), `pin-source file ${emptyFile}`],
  ])("refuses %s before C_Login: no PIN is presented, so no try is counted", async (_, supply, source) => {
    const { context, logins } = tokenAnswering("CKR_PIN_INCORRECT:160", 0);
    const error = await loginUser(context, supply).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).code).toBe("PASSWORD_REQUIRED");
    expect((error as InputError).message).toMatch(`the user PIN from ${source} is empty; it was not presented to token "pad"`);
    expect((error as InputError).hint).toBe("give the PIN there: an empty one would only count as a failed try on the token");
    expect(logins).toHaveLength(0);
  });

  it("refuses an empty context-specific PIN before C_Login too", () => {
    const { context, logins } = tokenAnswering("CKR_PIN_INCORRECT:160", 0);
    expect(() => loginContextSpecific(context, Secret.fromUtf8(""), "file ctx")).toThrow(/context-specific PIN from file ctx is empty/);
    expect(logins).toHaveLength(0);
  });

  it("does not present again a PIN the token rejected (before: once per rebuild of the signer, a try each)", async () => {
    // A daemon rebuilds its signer at each SIGHUP after a config change: 20 reloads presented a wrong PIN 20 times
    // (20 CKR_PIN_INCORRECT in a SoftHSM spy log), enough to lock most tokens.
    const { context, logins } = tokenAnswering("CKR_PIN_INCORRECT:160", 0);
    const supply = pinFromSource({ kind: "env", name: "P" }, "the PIN", { P: "9999" });
    await expect(loginUser(context, supply)).rejects.toMatchObject({ code: "PIN_INCORRECT" });
    for (let i = 0; i < 3; i++) {
      await expect(loginUser(context, supply)).rejects.toMatchObject({
        code: "PIN_INCORRECT",
        message: 'token "pad" (serial 1) already rejected the PIN from environment variable P; it was not presented again',
        // The operator may have set the token's PIN to this one since (SIGHUP keeps refusing it): restart then.
        hint: "fix the PIN there; if the token's PIN was changed to this one, restart (a reload refuses it too)",
      });
    }
    expect(logins).toHaveLength(1);
    // Another PIN is presented; the same PIN to another token too.
    await expect(loginUser(context, pinFromSource({ kind: "env", name: "P" }, "the PIN", { P: "1234" }))).rejects.toThrow();
    const other = tokenAnswering("CKR_PIN_INCORRECT:160", 0);
    (other.context.slot.token as { serial: string }).serial = "2";
    await expect(loginUser(other.context, supply)).rejects.toThrow(/rejected the PIN from environment variable P \(CKR_PIN_INCORRECT/);
    expect([logins.length, other.logins.length]).toEqual([2, 1]);
  });

  it("an expired PIN (the right one, no try counted) is not taken for a rejected one: it says expired each time", async () => {
    const { context, logins } = tokenAnswering("CKR_PIN_EXPIRED:163", 0);
    const supply = pinFromSource({ kind: "env", name: "P" }, "the PIN", { P: "expired-4711" });
    for (let i = 0; i < 2; i++) {
      await expect(loginUser(context, supply)).rejects.toThrow('the PIN of token "pad" (serial 1) has expired (CKR_PIN_EXPIRED)');
    }
    expect(logins).toHaveLength(2);
  });

  it("wipes the remembered context-specific PIN the token rejected as wrong; one whose outcome is unknown or expired is the caller's (round 43, L2)", () => {
    const after = (ckr: string) => {
      forgetRejectedSecrets();
      const pin = Secret.fromUtf8("5678");
      expect(() => loginContextSpecific(tokenAnswering(ckr, 0).context, pin, "file ctx")).toThrow();
      return (() => { try { return pin.reveal(); } catch { return "wiped"; } })();
    };
    expect([after("CKR_PIN_INCORRECT:160"), after("CKR_DEVICE_ERROR:48"), after("CKR_PIN_EXPIRED:163")]).toEqual(["wiped", "5678", "5678"]);
  });

  it("does not present again a context-specific PIN the token rejected, nor take it for the user PIN's rejection", async () => {
    const { context, logins } = tokenAnswering("CKR_PIN_INCORRECT:160", 0);
    const pin = () => Secret.fromUtf8("5678");
    expect(() => loginContextSpecific(context, pin(), "file ctx")).toThrow(/rejected the context-specific PIN from file ctx \(CKR_PIN_INCORRECT/);
    expect(() => loginContextSpecific(context, pin(), "file ctx")).toThrow(
      'token "pad" (serial 1) already rejected the context-specific PIN from file ctx; it was not presented again',
    );
    expect(logins).toHaveLength(1);
    await expect(loginUser(context, pinFromSource({ kind: "env", name: "P" }, "the PIN", { P: "5678" }))).rejects.toThrow(/\(CKR_PIN_INCORRECT/);
    expect(logins).toHaveLength(2);
  });

  it("a token already reporting its user PIN blocked: PIN_LOCKED with the unblock hint, the PIN not presented", async () => {
    // CK_TOKEN_INFO now, and the flags the slot was listed with when the token can no longer be asked.
    const { context, logins } = tokenAnswering("CKR_PIN_INCORRECT:160", CKF.USER_PIN_LOCKED);
    (context.slot as { flags: number }).flags = 0;
    const supply = pinFromSource({ kind: "env", name: "P" }, "the PIN", { P: "1234" });
    await expect(loginUser(context, supply)).rejects.toMatchObject({
      code: "PIN_LOCKED",
      message: 'the user PIN of token "pad" (serial 1) is blocked (CKF_USER_PIN_LOCKED); it was not presented',
      hint: expect.stringMatching(/^unblock it with the SO PIN or PUK/),
    });
    const listed = tokenAnswering("CKR_PIN_INCORRECT:160", CKF.USER_PIN_LOCKED);
    (listed.context.module.lib as unknown as { C_GetTokenInfo: () => never }).C_GetTokenInfo = () => {
      throw new Error("CKR_DEVICE_ERROR:48");
    };
    await expect(loginUser(listed.context, supply)).rejects.toMatchObject({ code: "PIN_LOCKED" });
    expect([logins.length, listed.logins.length]).toEqual([0, 0]);
  });

  it("presents the PIN's text as CKU_USER, and wipes it after C_Login, failed or not", async () => {
    const bytes = [Buffer.from("4711"), Buffer.from("4712")];
    const handedOut = [...bytes];
    const supply: PinSupply = { description: "test", read: async () => Secret.fromBytes(handedOut.shift()!) };
    const { context, logins } = tokenAnswering("CKR_PIN_INCORRECT:160", 0);
    await expect(loginUser(context, supply)).rejects.toMatchObject({ code: "PIN_INCORRECT" });
    (context.module.lib as unknown as { C_Login: (...args: unknown[]) => void }).C_Login = (...args) => void logins.push(args);
    await loginUser(context, supply);
    expect(logins).toEqual([[context.session, 1, "4711"], [context.session, 1, "4712"]]);
    expect(bytes.map((b) => b.every((byte) => byte === 0))).toEqual([true, true]);
  });

  it.each([["CKR_PIN_INVALID:161"], ["CKR_PIN_LEN_RANGE:162"]])("%s is a rejected PIN too: PIN_INCORRECT, and not presented again", async (ckr) => {
    const { context, logins } = tokenAnswering(ckr, 0);
    const supply = pinFromSource({ kind: "env", name: "P" }, "the PIN", { P: "12" });
    await expect(loginUser(context, supply)).rejects.toMatchObject({
      code: "PIN_INCORRECT", message: `token "pad" (serial 1) rejected the PIN from environment variable P (${ckr.split(":")[0]}); the token reports no retry-counter warning`,
    });
    await expect(loginUser(context, supply)).rejects.toThrow(/already rejected the PIN/);
    expect(logins).toHaveLength(1);
  });

  it("the try that blocked the PIN says so with the unblock hint; any other says it will not be tried again", async () => {
    const answers: (number | undefined)[] = [0, CKF.USER_PIN_LOCKED, 0, CKF.USER_PIN_FINAL_TRY, 0, undefined];
    const { context } = tokenAnswering("CKR_PIN_INCORRECT:160", 0);
    (context.module.lib as unknown as { C_GetTokenInfo: () => unknown }).C_GetTokenInfo = () => {
      const flags = answers.shift();
      if (flags === undefined) throw new Error("CKR_DEVICE_REMOVED:50");
      return { flags };
    };
    const hints = [];
    for (const pin of ["1", "2", "3"]) {
      const error = (await loginUser(context, pinFromSource({ kind: "value", value: pin }, "the PIN", {})).catch((e: unknown) => e)) as AgentError;
      hints.push([error.code, error.message.replace(/^.*\); /, ""), error.hint]);
    }
    const notAgain = "it was tried once and will not be tried again, so that the token does not lock; fix the PIN and run again";
    expect(hints).toEqual([
      ["PIN_INCORRECT", "the token now reports the PIN as locked (CKF_USER_PIN_LOCKED)", expect.stringMatching(/^that was the last try: unblock it with the SO PIN or PUK/)],
      ["PIN_INCORRECT", "the token reports one try left before the PIN locks (CKF_USER_PIN_FINAL_TRY)", notAgain],
      ["PIN_INCORRECT", "the token's retry counter could not be read", notAgain],
    ]);
  });

  it("CKR_PIN_LOCKED and CKR_PIN_EXPIRED do not mark the PIN as wrong: once unblocked or changed, the same PIN is presented", async () => {
    // A daemon whose token was unblocked with the PUK meanwhile: the right PIN must not be refused until a restart.
    const locked = tokenAnswering("CKR_PIN_LOCKED:164", 0);
    const supply = pinFromSource({ kind: "env", name: "P" }, "the PIN", { P: "1234" });
    for (let i = 0; i < 2; i++) {
      await expect(loginUser(locked.context, supply)).rejects.toMatchObject({
        code: "PIN_LOCKED", message: 'the PIN of token "pad" (serial 1) is blocked (CKR_PIN_LOCKED)', hint: expect.stringMatching(/^unblock it/),
      });
    }
    expect(locked.logins).toHaveLength(2);
    const expired = tokenAnswering("CKR_PIN_EXPIRED:163", 0);
    for (let i = 0; i < 2; i++) {
      expect(() => loginContextSpecific(expired.context, Secret.fromUtf8("5678"), "file ctx")).toThrow(expect.objectContaining({
        code: "PIN_INCORRECT",
        message: 'the context-specific PIN of token "pad" (serial 1) has expired (CKR_PIN_EXPIRED)',
        hint: "change it with the token's tools (e.g. pkcs11-tool --change-pin)",
      }));
    }
    expect(expired.logins).toHaveLength(2);
    expect(expired.logins[0]).toEqual([expired.context.session, 2, "5678"]);
  });

  it.each([
    ["CKR_GENERAL_ERROR:5 from a module whose tokens are not files", "CKR_GENERAL_ERROR:5", "Fake"],
    ["CKR_DEVICE_ERROR:48 from SoftHSM", "CKR_DEVICE_ERROR:48", "SoftHSM"],
    ["CKR_DEVICE_REMOVED:50 from SoftHSM", "CKR_DEVICE_REMOVED:50", "SoftHSM"],
  ])("%s: the failure as it is, with no hint to try again or to set a PIN; the PIN, maybe counted, is not presented again", async (_, ckr, manufacturer) => {
    forgetRejectedSecrets();
    const { context, logins } = tokenAnswering(ckr, CKF.USER_PIN_INITIALIZED);
    (context.module as { info: unknown }).info = { manufacturer, description: "d" };
    const supply = pinFromSource({ kind: "env", name: "P" }, "the PIN", { P: "1234" });
    const error = (await loginUser(context, supply).catch((e: unknown) => e)) as DeviceError;
    const unanswered = `, after the PIN from ${supply.description} was presented; it is not presented again`;
    const hint = "a wrong PIN may have counted on the token's retry counter: check the token (re-insert it), then restart";
    expect([error.code, error.message, error.hint]).toEqual(["PKCS11_ERROR", `C_Login on token "pad" (serial 1) failed: ${ckr.split(":")[0]}${unanswered}`, hint]);
    expect(() => loginContextSpecific(context, Secret.fromUtf8("1234"), "file ctx")).toThrow(
      `C_Login (context-specific) on token "pad" (serial 1) failed: ${ckr.split(":")[0]}, after the context-specific PIN from file ctx`,
    );
    // Before: presented again (a wrong one a second try on the token's counter).
    await expect(loginUser(context, supply)).rejects.toThrow(`token "pad" (serial 1) did not answer when the PIN from ${supply.description} was presented; it was not presented again`);
    expect(() => loginContextSpecific(context, Secret.fromUtf8("1234"), "file ctx")).toThrow(/did not answer when the context-specific PIN/);
    expect(logins).toHaveLength(2);
  });

  it("a PIN-pad token is not asked for a PIN on the terminal: the token asks", () => {
    const token = { label: "t", manufacturer: "m", model: "x", serial: "1" };
    const slot = { handle: Buffer.from([1]), slotId: 1n, slotDescription: "", slotManufacturer: "", token, flags: CKF.PROTECTED_AUTHENTICATION_PATH };
    expect(userPinPrompt(slot, false, "pkcs11.pin")).toBeUndefined();
  });

  it("reports a wrong PIN entered on the PIN pad, once", async () => {
    const { context, logins } = tokenAnswering("CKR_PIN_INCORRECT:160", CKF.PROTECTED_AUTHENTICATION_PATH);
    await expect(loginUser(context, undefined)).rejects.toMatchObject({ code: "PIN_INCORRECT" });
    expect(logins).toHaveLength(1);
  });
});

describe("loginUser on a token this process already logged in to", () => {
  /** A token with PIN `right`: C_Login checks the PIN while logged out, answers CKR_USER_ALREADY_LOGGED_IN to any once in. */
  function loggingToken(right: string, id: { serial: string; label?: string; path?: string }, loggedIn = false) {
    const state = { right, loggedIn, presented: [] as string[] };
    const lib = {
      C_GetTokenInfo: () => ({ flags: CKF.PROTECTED_AUTHENTICATION_PATH }),
      C_Login: (_session: unknown, _user: unknown, pin?: string) => {
        state.presented.push(pin ?? "(pad)");
        if (state.loggedIn) throw new Error("CKR_USER_ALREADY_LOGGED_IN:256");
        if (pin !== undefined && pin !== state.right) throw new Error("CKR_PIN_INCORRECT:160");
        state.loggedIn = true;
      },
    };
    const token = { label: id.label ?? "shared", manufacturer: "m", model: "x", serial: id.serial };
    const slot = { handle: Buffer.from([1]), slotId: 1n, slotDescription: "", slotManufacturer: "", token, flags: CKF.PROTECTED_AUTHENTICATION_PATH };
    const module = { lib, info: { manufacturerId: "m", libraryDescription: "d" }, path: id.path ?? "/m.so" };
    return { context: { module, slot, session: Buffer.from([2]), generation: 0 } as unknown as TokenContext, state };
  }
  const pin = (value: string) => pinFromSource({ kind: "env", name: "Q" }, "the PIN", { Q: value });

  it("refuses another PIN than the one that logged it in, without remembering it as rejected; the same PIN passes", async () => {
    const { context, state } = loggingToken("1111", { serial: "held-1" });
    await loginUser(context, pin("1111"));
    await expect(loginUser(context, pin("2222"))).rejects.toMatchObject({
      code: "PIN_INCORRECT",
      message: 'token "shared" (serial held-1) is logged in with another PIN than the one from environment variable Q',
      hint: expect.stringMatching(/^fix the PIN there \(another signer of this process keeps the token logged in/),
    });
    await expect(loginUser(context, pin("1111"))).resolves.toBeUndefined();
    // The token did not check "2222": once it is logged out and its PIN is "2222", that PIN is presented and taken.
    state.loggedIn = false;
    state.right = "2222";
    await expect(loginUser(context, pin("2222"))).resolves.toBeUndefined();
    expect(state.presented).toEqual(["1111", "2222", "1111", "2222"]);
    // Now logged in with "2222": "1111" is the other PIN.
    await expect(loginUser(context, pin("1111"))).rejects.toThrow(/is logged in with another PIN/);
  });

  it("a PIN refused by the token is not the one it is logged in with", async () => {
    const { context, state } = loggingToken("1111", { serial: "held-2" });
    await expect(loginUser(context, pin("3333"))).rejects.toThrow(/rejected the PIN from environment variable Q \(CKR_PIN_INCORRECT/);
    state.loggedIn = true; // another session logged in (the PIN pad): nothing known of its PIN
    await expect(loginUser(context, pin("4444"))).resolves.toBeUndefined();
  });

  it.each([
    ["serial", { serial: "held-3b" }],
    ["label", { serial: "held-3", label: "other" }],
    ["module", { serial: "held-3", path: "/other.so" }],
  ])("what one token was logged in with says nothing of another (other %s)", async (_, id) => {
    const first = loggingToken("1111", { serial: "held-3" });
    await loginUser(first.context, pin("1111"));
    const other = loggingToken("2222", id, true);
    await expect(loginUser(other.context, pin("2222"))).resolves.toBeUndefined();
  });

  it("says on the debug sink that a PIN logged it in (doctor's rows follow that line); the PIN pad's login says nothing", async () => {
    const lines: string[] = [];
    const withPin = loggingToken("1111", { serial: "held-5" });
    (withPin.context as { debug?: (line: string) => void }).debug = (line) => lines.push(line);
    await loginUser(withPin.context, pin("1111"));
    const pad = loggingToken("1111", { serial: "held-6" });
    (pad.context as { debug?: (line: string) => void }).debug = (line) => lines.push(line);
    await loginUser(pad.context, undefined);
    expect(lines).toEqual(['pkcs11: logged in to token "shared" (serial held-5) with the PIN from environment variable Q']);
  });

  it("without a PIN supply or a PIN pad, C_Login is not called; a PIN pad's rejection names the pad", async () => {
    const { context, state } = loggingToken("1111", { serial: "held-7" });
    (context.slot as { flags: number }).flags = 0;
    (context.module.lib as unknown as { C_GetTokenInfo: () => unknown }).C_GetTokenInfo = () => ({ flags: 0 });
    await expect(loginUser(context, undefined)).rejects.toThrow("loginUser needs a PIN supply");
    expect(state.presented).toEqual([]);
    const pad = loggingToken("1111", { serial: "held-8" });
    (pad.context.module.lib as unknown as { C_Login: () => never }).C_Login = () => {
      throw new Error("CKR_PIN_INCORRECT:160");
    };
    await expect(loginUser(pad.context, undefined)).rejects.toThrow(/the PIN entered on the PIN pad/);
  });

  it("after a PIN pad's own login, a PIN is compared with nothing: the PIN that logged it in before is forgotten", async () => {
    // Before: the first PIN's digest stayed, and "2222" (the one entered on the pad) was refused as "another PIN".
    const { context, state } = loggingToken("1111", { serial: "held-9" });
    await loginUser(context, pin("1111"));
    state.loggedIn = false; // logged out (its sessions closed); the PIN changed to 2222, entered on the pad
    state.right = "2222";
    await loginUser(context, undefined);
    await expect(loginUser(context, pin("2222"))).resolves.toBeUndefined();
    expect(state.presented).toEqual(["1111", "(pad)", "2222"]);
  });

  it("a PIN rejected by one token is still presented to another whose serial and label bytes run together the same (serial ab, label \"\" and serial \"\", label ab)", async () => {
    const first = loggingToken("1111", { serial: "ab", label: "" });
    await expect(loginUser(first.context, pin("9999"))).rejects.toThrow(/rejected the PIN/);
    const second = loggingToken("9999", { serial: "", label: "ab" });
    await expect(loginUser(second.context, pin("9999"))).resolves.toBeUndefined();
    expect(second.state.presented).toEqual(["9999"]);
  });

  it("the PIN pad of a token logged in with a PIN is not refused (nothing to compare)", async () => {
    const { context, state } = loggingToken("1111", { serial: "held-4" });
    await loginUser(context, pin("1111"));
    await expect(loginUser(context, undefined)).resolves.toBeUndefined();
    expect(state.presented).toEqual(["1111", "(pad)"]);
  });
});
