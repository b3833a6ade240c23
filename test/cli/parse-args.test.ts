import { describe, expect, it } from "vitest";
import { boolArg, integerArg, listArg, stringArg, type CommandSpec, type ParsedArgs } from "../../src/cli/command.js";
import { COMMANDS } from "../../src/cli/commands/index.js";
import { parseCommandArgs } from "../../src/cli/parse-args.js";
import {
  certificateWarningDays, certificateWarningFromArgs, debugLogger, flagRecordFromArgs, rejectOsStoreFlags, secretFromArgs, tokenAccessFromArgs,
  waitForDeviceFromArgs,
} from "../../src/cli/settings-args.js";
import { CERTIFICATE_WARNING_OPTION } from "../../src/cli/shared-options.js";
import { AgentError, MAX_LOG_LINE } from "../../src/errors.js";
import { SIGNER_OPTIONS } from "../../src/cli/shared-options.js";
import { heldSecret, type SecretSource } from "../../src/secrets/secret-source.js";

/** A value given directly as the settings hold it: kind "value", held as bytes (no string field, `text` read back). */
const held = (source: SecretSource | undefined) => {
  const { value, ...rest } = source as { value?: string };
  return { ...rest, ...(value === undefined ? {} : { value }), text: heldSecret(source)?.use((bytes) => bytes.toString()) };
};

const SPEC: Pick<CommandSpec, "name" | "options" | "conflicts"> = {
  name: "cmd",
  options: [
    { name: "role-arn", type: "string", description: "" },
    { name: "config", type: "string", refuseEmpty: true, description: "" },
    { name: "session-duration", type: "number", default: 3600, description: "" },
    { name: "debug", type: "boolean", description: "" },
    { name: "format", type: "string", choices: ["json", "env"], description: "" },
    { name: "tag", type: "string", repeatable: true, description: "" },
    { name: "zeta", type: "string", description: "" },
    { name: "alpha", type: "string", description: "" },
  ],
  conflicts: [["zeta", "alpha"]],
};
const parse = (...argv: string[]) => parseCommandArgs(SPEC, argv);
const thrown = (run: () => unknown, withHint = false) => {
  try {
    run();
  } catch (error) {
    const { code, message, hint } = error as AgentError;
    return `${code}: ${message}${withHint ? ` (${hint})` : ""}`;
  }
  return "accepted";
};
const refused = (argv: string[], withHint = false) => thrown(() => parse(...argv), withHint);
const collector = () => {
  let stderr = "";
  return { io: { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: {} }, stderr: () => stderr };
};

describe("parseCommandArgs", () => {
  it("sets the defaults that exist and nothing else; explicit holds only what the line gave", () => {
    const none = parse();
    expect(none.values).toStrictEqual({ "session-duration": 3600 });
    expect([...none.explicit]).toEqual([]);
    expect(none.positionals).toEqual([]);
  });

  it("reads --flag value, --flag=value (up to the first =), and -flag like --flag", () => {
    const args = parse("--role-arn", "r", "-config=a=b", "pos", "-", "--session-duration=7");
    expect(args.values).toMatchObject({ "role-arn": "r", config: "a=b", "session-duration": 7 });
    expect([...args.explicit].sort()).toEqual(["config", "role-arn", "session-duration"]);
    expect(args.positionals).toEqual(["pos", "-"]);
  });

  it("takes everything after -- as positionals, flags included", () => {
    const args = parse("--debug", "--", "--role-arn", "x", "--");
    expect(args.positionals).toEqual(["--role-arn", "x", "--"]);
    expect(args.values["role-arn"]).toBeUndefined();
    expect(args.values["debug"]).toBe(true);
  });

  it("takes the next argument as a flag's value even when it starts with a dash, and refuses a flag without one", () => {
    expect(parse("--role-arn", "--debug").values["role-arn"]).toBe("--debug");
    expect(refused(["--role-arn"])).toBe("USAGE: flag needs an argument: --role-arn");
    expect(refused(["--debug", "--config"])).toBe("USAGE: flag needs an argument: --config");
  });

  it("refuses an unknown flag, in either spelling, naming the command's help", () => {
    expect(refused(["--nope"])).toBe("USAGE: unknown flag --nope for 'cmd'");
    expect(refused(["-nope=1"])).toBe("USAGE: unknown flag --nope for 'cmd'");
    expect(refused(["--tags=a"], true)).toBe("USAGE: unknown flag --tags for 'cmd' (did you mean --tag? see 'roles-anywhere-agent cmd --help')");
    expect(refused(["--zzzzzzzz"], true)).toBe("USAGE: unknown flag --zzzzzzzz for 'cmd' (see 'roles-anywhere-agent cmd --help')");
  });

  it("reads a boolean in Go's spellings only, never from the next argument", () => {
    for (const t of ["true", "1", "t", "TRUE", "True"]) expect(parse(`--debug=${t}`).values["debug"], t).toBe(true);
    for (const f of ["false", "0", "f", "FALSE", "False"]) expect(parse(`--debug=${f}`).values["debug"], f).toBe(false);
    for (const bad of ["yes", "xtrue", "truex", "false0", "0false", ""]) {
      expect(refused([`--debug=${bad}`]), bad).toBe("USAGE: invalid value for --debug (not shown): expected true or false");
    }
    // A PIN typed after a boolean flag that only sounds like it takes one is not repeated on stderr (the journal).
    expect(refused(["--debug=123456"])).not.toContain("123456");
    const args = parse("--debug", "false");
    expect([args.values["debug"], args.positionals]).toEqual([true, ["false"]]);
    expect(parse("--debug=false").explicit.has("debug")).toBe(true);
  });

  it("reads integers as Go's ParseInt(s, 0, 64) does, and refuses the rest", () => {
    const n = (text: string) => parse(`--session-duration=${text}`).values["session-duration"];
    expect([n("900"), n("+900"), n("-5"), n("0"), n("0x1F"), n("0X1_f"), n("0o17"), n("0O1_7"), n("017"), n("0b101"), n("0B1_01")]).toEqual([
      900, 900, -5, 0, 31, 31, 15, 15, 15, 5, 5,
    ]);
    for (const bad of ["", "12abc", "x12", "0x", "0xg", "0o", "0o8", "0b", "0b2", "09", "--1", " 1", "0x1x", "1e", "1.5e", ".", "nan", "+NaN", "1_0.5"]) {
      expect(refused([`--session-duration=${bad}`]), bad).toBe(`USAGE: invalid argument "${bad}" for "--session-duration" flag: not an integer`);
    }
    // A number that is not an integer is read as it is: the flag's rule refuses it in the words a config file or the
    // SDK gets (test/settings/number-rules.test.ts); before, `not an integer` here.
    expect([n("1.5"), n("900.5"), n(".5"), n("5."), n("1e3"), n("-2.5E-1"), n("1e21"), n("Infinity"), n("-Infinity")]).toEqual([
      1.5, 900.5, 0.5, 5, 1000, -0.25, 1e21, Infinity, -Infinity,
    ]);
    expect(n("NaN")).toBeNaN();
    // Too large for a double's integers: read as the nearest double, which the flag's rule refuses (number-rules.test.ts).
    expect([n("9007199254740993"), n("-0x20000000000001")]).toEqual([9007199254740992, -9007199254740992]);
    expect(n("-9007199254740991")).toBe(-9007199254740991);
  });

  it("a decimal written with a leading 0 and an 8 or 9 (not octal, as Go reads it) is refused with what to write", () => {
    // Before: `invalid argument "0900" … not an integer` and nothing more, for what looks like an integer.
    expect(refused(["--session-duration", "0900"], true)).toBe(
      'USAGE: invalid argument "0900" for "--session-duration" flag: not an integer (a leading 0 makes it octal, as in Go: write 900)',
    );
    expect(refused(["--session-duration", "-0_09"], true)).toMatch(/\(a leading 0 makes it octal, as in Go: write -9\)$/);
    // No hint where writing it without the 0 would not help either, or where no leading 0 is the cause.
    for (const text of ["09x", "09x9", "07_", "0_", "1_09_", "0x9g"]) {
      expect(refused(["--session-duration", text], true), text).toBe(`USAGE: invalid argument "${text}" for "--session-duration" flag: not an integer (undefined)`);
    }
  });

  it("takes `_` only between digits (or after a base prefix), as Go's underscoreOK does", () => {
    const n = (text: string) => parse(`--session-duration=${text}`).values["session-duration"];
    expect([n("1_000"), n("-1_0"), n("0x_1F"), n("0_17"), n("0b_1_0"), n("9_9_9")]).toEqual([1000, -10, 31, 15, 2, 999]);
    for (const bad of ["_1", "1_", "1__0", "0x1_", "0x__1", "0x_", "0o_", "0_", "0b1__0", "+_1", "0x1_f_"]) {
      expect(refused([`--session-duration=${bad}`]), bad).toBe(`USAGE: invalid argument "${bad}" for "--session-duration" flag: not an integer`);
    }
  });

  it("holds a flag with choices to them", () => {
    expect(parse("--format", "env").values["format"]).toBe("env");
    expect(refused(["--format=yaml"])).toBe('USAGE: invalid argument "yaml" for "--format" flag: yaml is not included in json,env');
  });

  it("collects a repeatable flag; a flag given twice otherwise keeps the last value", () => {
    expect(parse("--tag", "a", "--tag=b").values["tag"]).toEqual(["a", "b"]);
    expect(parse("--role-arn", "a", "--role-arn", "b").values["role-arn"]).toBe("b");
  });

  it("refuses an empty value (an unset $VAR) for a refuseEmpty flag only", () => {
    expect(refused(["--config="], true)).toBe("USAGE: --config is empty (give a value, or leave the flag out for the default)");
    expect(refused(["--config", ""])).toBe("USAGE: --config is empty");
    expect(parse("--role-arn", "").values["role-arn"]).toBe("");
  });

  it("refuses both flags of a conflicting pair, naming them sorted as the Go helper does; one alone is fine", () => {
    expect(refused(["--zeta", "z", "--alpha", "a"])).toBe(
      "USAGE: if any flags in the group [zeta alpha] are set none of the others can be; [alpha zeta] were all set",
    );
    expect(parse("--zeta", "z").values["zeta"]).toBe("z");
    expect(parse("--alpha", "a").values["alpha"]).toBe("a");
  });
});

describe("the ParsedArgs readers", () => {
  const args = (values: ParsedArgs["values"]): ParsedArgs => ({ values, explicit: new Set(Object.keys(values)), positionals: [] });

  it("stringArg: a non-empty string only; boolArg: true only; listArg: an array only", () => {
    const a = args({ s: "x", e: "", n: 5, b: true, f: false, l: ["a"] });
    expect([stringArg(a, "s"), stringArg(a, "e"), stringArg(a, "n"), stringArg(a, "l"), stringArg(a, "none")]).toEqual(["x", undefined, undefined, undefined, undefined]);
    expect([boolArg(a, "b"), boolArg(a, "f"), boolArg(a, "s"), boolArg(a, "none")]).toEqual([true, false, false, false]);
    expect([listArg(a, "l"), listArg(a, "s"), listArg(a, "none")]).toEqual([["a"], [], []]);
  });

  it("integerArg: inclusive bounds, a fraction or a non-number refused or absent", () => {
    const read = (v: number | string | undefined) => integerArg(args({ port: v }), "port", 1, 65535);
    expect([read(1), read(65535), read(undefined), read("80")]).toEqual([1, 65535, undefined, undefined]);
    expect(thrown(() => read(0))).toBe("USAGE: --port must be a whole number from 1 to 65535 (got 0)");
    expect(() => read(65536)).toThrow("--port must be a whole number from 1 to 65535 (got 65536)");
    expect(() => read(1.5)).toThrow("--port must be a whole number from 1 to 65535 (got 1.5)");
    expect(() => integerArg(args({ x: -1 }), "x", 0, 9, "must be a digit")).toThrow("--x -1 must be a digit");
  });
});

describe("the settings flags", () => {
  const parseSigner = (...argv: string[]) => parseCommandArgs({ name: "sign-string", options: SIGNER_OPTIONS }, argv);

  it("no command takes a PIN's value on the command line: only its -file and -env forms", async () => {
    for (const [name, load] of Object.entries(COMMANDS)) {
      const names = (await load()).options.map((o) => o.name);
      for (const pin of ["pkcs11-pin", "pkcs11-context-pin", "pin", "pin-value"]) expect(names, `${name} --${pin}`).not.toContain(pin);
    }
  });

  it("takes one source of a secret only: its value, -file or -env", () => {
    const two = [
      ["--pkcs8-password", "p", "--pkcs8-password-file", "/f"],
      ["--pkcs8-password", "p", "--pkcs8-password-env", "E"],
      ["--tpm-key-password-file", "/f", "--tpm-key-password-env", "E"],
      ["--pkcs11-pin-file", "/f", "--pkcs11-pin-env", "E"],
    ];
    for (const argv of two) {
      const flag = argv[0]!.slice(2).replace(/-(file|env)$/, "");
      expect(thrown(() => secretFromArgs(parseSigner(...argv), flag)), argv.join(" ")).toBe(`USAGE: give only one of --${flag}, --${flag}-file and --${flag}-env`);
    }
    expect(secretFromArgs(parseSigner("--pkcs11-pin-file", "/f"), "pkcs11-pin")).toEqual({ kind: "file", path: "/f" });
    expect(secretFromArgs(parseSigner("--pkcs11-pin-env", "E"), "pkcs11-pin")).toEqual({ kind: "env", name: "E" });
    expect(held(secretFromArgs(parseSigner("--pkcs8-password", "p"), "pkcs8-password"))).toEqual({ kind: "value", text: "p" });
    // The password itself, whatever it looks like: only --tpm-parent-password and --tpm-owner-password name a source.
    expect(held(secretFromArgs(parseSigner("--pkcs8-password", "file:/etc/shadow"), "pkcs8-password"))).toEqual({ kind: "value", text: "file:/etc/shadow" });
    // An unset $VAR given as the value: no secret, as the Go helper reads it.
    expect(secretFromArgs(parseSigner("--pkcs8-password", ""), "pkcs8-password")).toBeUndefined();
    expect(secretFromArgs(parseSigner(), "pkcs8-password")).toBeUndefined();
  });

  it("reads --tpm-parent-password as a source: env:, file:, prompt (with its own prompt) or the value", () => {
    const parent = (v: string) => secretFromArgs(parseSigner("--tpm-parent-password", v), "tpm-parent-password");
    expect([parent("env:P"), parent("file:/p"), parent("prompt"), held(parent("pw"))]).toEqual([
      { kind: "env", name: "P" }, { kind: "file", path: "/p" }, { kind: "prompt", prompt: "TPM parent password: " }, { kind: "value", text: "pw" },
    ]);
    expect(() => parent("env:")).toThrow('--tpm-parent-password: "env:" names no environment variable');
    const owner = parseCommandArgs({ name: "keygen", options: [{ name: "tpm-owner-password", type: "string", description: "" }] }, ["--tpm-owner-password=prompt"]);
    expect(secretFromArgs(owner, "tpm-owner-password")).toEqual({ kind: "prompt", prompt: "TPM owner password: " });
  });

  it("refuses the macOS/Windows certificate-store flags, each by name", () => {
    for (const argv of [["--cert-selector", "x"], ["--system-store-name", "MY"], ["--use-latest-expiring-certificate"]]) {
      const flag = argv[0]!.slice(2);
      expect(thrown(() => rejectOsStoreFlags(parseSigner(...argv)), true), flag).toBe(
        `UNSUPPORTED_ON_PLATFORM: --${flag} selects from the macOS/Windows certificate store, which is not available on Linux ` +
          "(use --certificate with a file or a pkcs11: URI instead)",
      );
      expect(() => flagRecordFromArgs(parseSigner(...argv)), flag).toThrow(`--${flag} selects from the macOS/Windows certificate store`);
    }
    expect(() => rejectOsStoreFlags(parseSigner("--certificate", "c"))).not.toThrow();
  });

  it("leaves out of the record the flags given empty (an unset $VAR), keeping those given", () => {
    const record = flagRecordFromArgs(parseSigner("--certificate", "", "--private-key", "k.pem", "--reuse-pin"));
    expect(record).toMatchObject({ "private-key": "k.pem", "reuse-pin": true });
    expect("certificate" in record).toBe(false);
  });

  it("--wait-for-device: whole seconds from 0 to 86400, 0 or absent meaning no wait", () => {
    const { io, stderr } = collector();
    expect(waitForDeviceFromArgs(parseSigner("--wait-for-device", "0"), io)).toEqual({});
    waitForDeviceFromArgs(parseSigner("--wait-for-device", "5"), io).onDeviceWait!("waiting for the token");
    expect(stderr()).toBe("waiting for the token\n");
    expect(waitForDeviceFromArgs(parseSigner(), io)).toEqual({});
    expect(waitForDeviceFromArgs(parseSigner("--wait-for-device", "86400"), io)).toMatchObject({ waitForDeviceMs: 86_400_000 });
    expect(() => waitForDeviceFromArgs(parseSigner("--wait-for-device", "86401"), io)).toThrow(
      "--wait-for-device 86401 is out of range: give whole seconds from 0 to 86400",
    );
    expect(() => waitForDeviceFromArgs(parseSigner("--wait-for-device=-1"), io)).toThrow("--wait-for-device -1 is out of range");
  });

  it("--debug: each line on stderr, escaped (a token's label may hold a terminal escape); none without it", () => {
    const { io, stderr } = collector();
    expect(debugLogger(parseSigner(), io)).toBeUndefined();
    debugLogger(parseSigner("--debug"), io)!("label \u001b]0;x\u0007 line\nforged");
    expect(stderr()).toMatch(/^debug: label [^\u001b\u0007\n]*forged\n$/);
  });

  it("--debug: a line quoting 2 MB (a peer's header, a token's label) is cut at MAX_LOG_LINE, with …", () => {
    const { io, stderr } = collector();
    debugLogger(parseSigner("--debug"), io)!(`header: ${"\u001b".repeat(350_000)}${"x".repeat(2_000_000)}`);
    expect(stderr().length).toBeLessThanOrEqual("debug: ".length + MAX_LOG_LINE + 2);
    expect(stderr()).toMatch(/^debug: header: (\\u001b)+[\\u01b]*…\n$/);
  });

  it("the device-wait and certificate-warning lines: one printable line each, cut at MAX_LOG_LINE (a hostile token label or subject)", () => {
    const hostile = `name \u001b]0;owned\u0007 \u001b[2J\nforged: line ${"x".repeat(100_000)}`;
    const { io, stderr } = collector();
    waitForDeviceFromArgs(parseSigner("--wait-for-device", "5"), io).onDeviceWait!(`waiting for ${hostile}`);
    const days = parseCommandArgs({ name: "serve", options: [CERTIFICATE_WARNING_OPTION] }, ["--certificate-warning-days", "30"]);
    certificateWarningFromArgs(days, io)!.log(`certificate ${hostile}`);
    const lines = stderr().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe("");
    for (const [line, start] of [[lines[0]!, "waiting for name "], [lines[1]!, "certificate name "]] as const) {
      expect(line.startsWith(start)).toBe(true);
      expect(line).not.toMatch(/[\u0000-\u001f\u007f]/);
      expect(line.length).toBeLessThanOrEqual(MAX_LOG_LINE + 1);
      expect(line.endsWith("x…")).toBe(true);
    }
  });

  it("tokenAccessFromArgs: the module, the PIN's source and the environment", () => {
    const { io } = collector();
    const access = tokenAccessFromArgs(parseSigner("--pkcs11-lib", "/m.so", "--pkcs11-pin-env", "PIN"), io);
    expect(access).toMatchObject({ library: "/m.so", pin: { kind: "env", name: "PIN" }, env: io.env });
    expect(access.debug).toBeUndefined();
  });

  it("--certificate-warning-days: 14 by default, 0 never warns, up to 3650", () => {
    const parseDays = (...argv: string[]) => parseCommandArgs({ name: "serve", options: [CERTIFICATE_WARNING_OPTION] }, argv);
    expect(certificateWarningDays(parseDays())).toBe(14);
    expect(certificateWarningDays({ values: {}, explicit: new Set(), positionals: [] })).toBe(14);
    expect(certificateWarningFromArgs(parseDays("--certificate-warning-days", "0"), collector().io)).toBeUndefined();
    const { io, stderr } = collector();
    const warning = certificateWarningFromArgs(parseDays("--certificate-warning-days", "3650"), io)!;
    expect(warning.windowMs).toBe(3650 * 86_400_000);
    warning.log("expires soon");
    expect(stderr()).toBe("expires soon\n");
    expect(thrown(() => certificateWarningDays(parseDays("--certificate-warning-days", "3651")))).toBe(
      "USAGE: --certificate-warning-days 3651 is out of range: use 0 (never warn) to 3650",
    );
  });
});
