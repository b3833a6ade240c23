import { it } from "vitest";
import { mkdtempSync, writeFileSync, symlinkSync, chmodSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load-config.js";
const TA = "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/ta-1";
const PA = "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/pr-1";
const RA = "arn:aws:iam::123456789012:role/Gateway";
const p = { certificate: "/c.pem", "trust-anchor-arn": TA, "profile-arn": PA, "role-arn": RA };
it("probe", async () => {
  const dir = mkdtempSync(join(tmpdir(), "raa-cfgp-"));
  chmodSync(dir, 0o700);
  const t = async (label: string, make: (f: string) => void) => {
    const f = join(dir, label.replace(/\W/g, "_") + ".json");
    make(f);
    const t0 = Date.now();
    try { const c = await loadConfig(f, {}); console.log(label, "OK", [...c.profiles.keys()].join(","), JSON.stringify([...c.profiles.values()][0] ?? {}).slice(0, 120)); }
    catch (e) { console.log(label, "ERR", (e as any).code, String((e as Error).message).slice(0, 200), "|", (e as any).hint?.slice(0, 80)); }
    console.log("   ms", Date.now() - t0);
  };
  const w = (text: string | Buffer) => (f: string) => writeFileSync(f, text, { mode: 0o600 });
  await t("bom", w("\uFEFF" + JSON.stringify({ profiles: { a: p } })));
  await t("crlf", w(JSON.stringify({ profiles: { a: p } }, null, 2).replace(/\n/g, "\r\n")));
  await t("nul", w(JSON.stringify({ profiles: { a: p } }) + "\0"));
  await t("nul-in-string", w(JSON.stringify({ profiles: { a: { ...p, certificate: "/c\u0000.pem" } } })));
  await t("dup", w('{"profiles": {"a": {"certificate": "/x", "certificate": "/y"}}}'));
  await t("dup-escaped", w('{"profiles": {"a": {"certificate": "/x", "certific\\u0061te": "/y"}}}'));
  await t("proto-profile", w('{"profiles": {"constructor": ' + JSON.stringify(p) + ', "toString": ' + JSON.stringify(p) + '}}'));
  await t("proto-field", w('{"profiles": {"a": {"__proto__": {"certificate": "/evil"}}}}'));
  await t("proto-top", w('{"__proto__": {"profiles": {}}, "profiles": {}}'));
  await t("agent-proto", w('{"profiles": {"a": ' + JSON.stringify(p) + '}, "agent": {"profiles": ["hasOwnProperty"]}}'));
  await t("16MiB", w(JSON.stringify({ profiles: { a: p } }) + "\n".repeat(16 * 1024 * 1024)));
  await t("many-lines", w("{" + "\n".repeat(1_000_000) + '"profiles": {}}'));
  await t("deep", w("[".repeat(100000) + "]".repeat(100000)));
  await t("devzero", (f) => symlinkSync("/dev/zero", f));
  await t("fifo", (f) => execFileSync("mkfifo", [f]));
  await t("groupw", (f) => { writeFileSync(f, JSON.stringify({ profiles: {} }), { mode: 0o620 }); chmodSync(f, 0o620); });
  await t("utf16", w(Buffer.from("\uFEFF{}", "utf16le")));
  await t("latin1", w(Buffer.from('{"profiles": {"a": {"description": "caf\xe9"}}}', "latin1")));
  await t("unknown-field-huge", w(JSON.stringify({ profiles: { a: { ["x".repeat(100000)]: 1 } } })));
  await t("huge-value-echo", w(JSON.stringify({ profiles: { a: { ...p, "session-duration": "9".repeat(100000) } } })));
  await t("1e400", w('{"profiles": {"a": ' + JSON.stringify(p).replace("}", ', "max-attempts": 1e400}') + "}}"));
  await t("-0", w('{"profiles": {"a": ' + JSON.stringify(p).replace("}", ', "max-attempts": -0}') + "}}"));
  await t("pin-number", w('{"profiles": {"a": ' + JSON.stringify(p).replace("}", ', "pkcs11-pin": 123456}') + "}}"));
  await t("pin-array", w('{"profiles": {"a": ' + JSON.stringify(p).replace("}", ', "pkcs11-pin": ["123456"]}') + "}}"));
  await t("pin-value-uri-bad", w('{"profiles": {"a": ' + JSON.stringify({ ...p, certificate: "pkcs11:object=k;pin-value=98%zz76" }) + "}}"));
  await t("pin-value-bad-attr", w('{"profiles": {"a": ' + JSON.stringify({ ...p, certificate: "pkcs11:object=k;pin-value=987654;module-path" }) + "}}"));
});
