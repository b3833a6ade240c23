#!/usr/bin/env node
// Differential fuzz of TSS2 PRIVATE KEY files against tpm2-openssl on a real swtpm: `npm run build`, then
// `nice -n 10 node scripts/fuzz-tss2-key.mjs`. Not part of `npm test`; needs swtpm, swtpm_ioctl, tpm2-tools and
// openssl with the tpm2 provider (tpm2-openssl 1.1.1) on PATH.
//
// 1. A private swtpm (fresh state, free loopback TCP ports, DA parameters for tests), an ECC SRK made persistent at
//    0x81000001. Seeds, made fresh: tpm2-openssl's `openssl genpkey -provider tpm2` (P-256, P-384 with a password,
//    RSA 2048, P-256 and P-256 with a password under 0x81000001) and the agent's `keygen` (P-256, RSA 2048, P-384
//    under 0x81000001, P-256 with a PolicyPCR + PolicyAuthValue policy and a password), and tpm2-tools keys under
//    0x81000001 written into TSS2 files here: without fixedTPM/fixedParent, restricted, P-521, RSA 3072, a SHA-384
//    name, decrypt-only RSA and ECC, without userWithAuth, schemes fixed to RSAPSS, RSASSA-SHA384, ECDSA-SHA512,
//    noDA with a password, RSA sign|decrypt.
// 2. Each case is a seed with 0-2 structured mutations of its DER tree (lengths re-encoded, so the DER stays valid
//    unless the mutation is about the encoding): emptyAuth absent / FALSE / TRUE / 01 / 02 / two octets / implicit
//    tag; the OID (importable .4, sealed .5, others); the parent INTEGER (each hierarchy, 0, -1, a persistent handle as
//    a negative 4-byte INTEGER, leading zeros, 33 bits, empty, transient/NV/absent persistent handles); the policy
//    list (empty, removed, unknown or unsupported command codes, wrong tag numbers, implicit tags, PolicyAuthValue
//    added); secret [2], authPolicy [3], description [4], rsaParent [5], an unknown [6]; TPM2B sizes against the
//    OCTET STRINGs (±1, empty, cut, a byte more); bytes of the public area (objectAttributes bits such as fixedTPM,
//    sign, decrypt, restricted, userWithAuth; nameAlg, scheme, curve, key bits, exponent, unique sizes, authPolicy);
//    PEM vs DER, CRLF, text or another block before, another key's block after, one base64 line, blanks, a blank
//    line or a header in the block, no base64 padding, no last newline, the label in lower case, trailing bytes after
//    the SEQUENCE, a field after privkey, non-minimal and indefinite (BER) lengths, INTEGERs padded with 00 or FF,
//    the legacy "TSS2 KEY BLOB" label.
// 3. Oracle, one case at a time (swtpm serves one connection): `openssl pkeyutl -provider tpm2 -sign` of SHA-256("…")
//    with `-passin pass:<the seed's password or empty>` (failing that, `openssl dgst -sign`, which hashes in the TPM
//    and so signs with restricted keys), `openssl pkey -pubout` (of the block's DER where pkey fails on a PEM header
//    that dgst reads), and the signature checked with
//    node:crypto. The agent: createSigner (src/, bundled with esbuild) with the seed's password
//    (or noKeyPassword), sign, the signature checked against the signer's public key; then closed. A refusal must be
//    an AgentError with a code, on one line. Agreement: both sign with the same public key, or both refuse. A
//    disagreement that docs/tpm.md ("Differences from tpm2-openssl") describes is counted apart (`documented`), by
//    what the file holds and the agent's message; any other is a defect to fix or to document.
//    Cases are grouped by outcome, mutations, form and (for a disagreement) the message, numbers and paths blanked;
//    the first file of each disagreement is kept under fuzz-out/tss2-key/ with report.json. For each distinct
//    refusal of the agent (code and message), the CLI (`dist/cli.cjs sign-string`) is run on that file: it must exit
//    with the code's documented status and one line on stderr.
//   TSS2_FUZZ_CASES (default 2000), TSS2_FUZZ_SEED (default 32), TSS2_FUZZ_KEEP=1 keeps the work directory,
//   TSS2_FUZZ_ONLY=<regular expression> draws mutations only among the names it matches.
//   Round 30, 2,000 cases (seed 32, about 2 CPU minutes here and as much in openssl and swtpm): 1,795 agree (105
//   both sign the same key, 1,690 both refuse), 205 differ as docs/tpm.md says, none otherwise, no internal error, 38/38
//   CLI refusals one line with their exit status. Runs before round 30's fixes (seeds 30, 31) found a DER file that
//   tpm2-openssl signs with refused ("holds no private key") and a parent INTEGER padded with 00 or FF (not DER), which
//   tpm2-openssl refuses, signed with.
import { build } from "esbuild";
import { spawn, spawnSync } from "node:child_process";
import { createHash, createPublicKey, verify } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const CASES = Number(process.env.TSS2_FUZZ_CASES ?? 2000);
let seed = Number(process.env.TSS2_FUZZ_SEED ?? 32) >>> 0 || 1;
const random = () => ((seed ^= seed << 13), (seed ^= seed >>> 17), (seed ^= seed << 5), (seed >>> 0) / 2 ** 32);
const pick = (list) => list[Math.floor(random() * list.length)];
const int = (n) => Math.floor(random() * n);

const work = mkdtempSync(join(tmpdir(), "raa-tss2-fuzz-"));
const out = resolve("fuzz-out", "tss2-key");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const CLI = resolve("dist/cli.cjs");
if (!existsSync(CLI)) throw new Error("run `npm run build` first (dist/cli.cjs makes the keygen seeds and the CLI checks)");

// --- swtpm -------------------------------------------------------------------------------------------------------------
async function freePortPair() {
  const listen = (port) => new Promise((res) => {
    const s = createServer().once("error", () => res(0));
    s.listen(port, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); });
  });
  for (;;) {
    const p = await listen(0);
    if (p > 0 && p < 65535 && (await listen(p + 1))) return p;
  }
}
const port = await freePortPair();
mkdirSync(join(work, "state"));
const swtpm = spawn("swtpm", ["socket", "--tpm2", "--server", `type=tcp,port=${port},bindaddr=127.0.0.1`,
  "--ctrl", `type=tcp,port=${port + 1},bindaddr=127.0.0.1`, "--flags", "not-need-init,startup-clear",
  "--tpmstate", `dir=${join(work, "state")}`, "--log", `file=${join(work, "swtpm.log")},level=1`], { stdio: "ignore" });
const TCTI = `swtpm:host=127.0.0.1,port=${port}`;
const DEVICE = `tcp:127.0.0.1:${port}`;
const toolEnv = { ...process.env, TPM2TOOLS_TCTI: TCTI, TPM2OPENSSL_TCTI: TCTI };
const run = (cmd, args, input) => spawnSync(cmd, args, { env: toolEnv, cwd: work, input, maxBuffer: 64 << 20, stdio: ["pipe", "pipe", "pipe"] });
const must = (cmd, args) => {
  const r = run(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
};
for (let i = 0; run("tpm2_getrandom", ["4"]).status !== 0; i++) {
  if (i > 100) throw new Error("swtpm did not start");
  await new Promise((r) => setTimeout(r, 50));
}
const stopSwtpm = () => {
  run("tpm2_shutdown", ["-c"]);
  spawnSync("swtpm_ioctl", ["--tcp", `127.0.0.1:${port + 1}`, "-s"]);
  setTimeout(() => swtpm.kill("SIGKILL"), 2000).unref();
};
process.on("exit", () => swtpm.exitCode === null && swtpm.kill("SIGKILL"));
const clearLockout = () => must("tpm2_dictionarylockout", ["--setup-parameters", "--max-tries=1000", "--recovery-time=3600", "--lockout-recovery-time=0", "--clear-lockout"]);
clearLockout();
must("tpm2_createprimary", ["-C", "o", "-g", "sha256", "-G", "ecc256:aes128cfb", "-a", "restricted|decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda", "-c", "srk.ctx", "-Q"]);
must("tpm2_evictcontrol", ["-C", "o", "-c", "srk.ctx", "0x81000001"]);
must("tpm2_flushcontext", ["-t"]);

// --- the agent, from src/ ------------------------------------------------------------------------------------------------
const src = (path) => JSON.stringify(resolve(path));
writeFileSync(join(work, "entry.ts"), [
  `export { createSigner } from ${src("src/signers/factory.ts")};`,
  `export { isAgentError, ERROR_CODES } from ${src("src/errors.ts")};`,
  `export { EXIT_CODES } from ${src("src/cli/exit-codes.ts")};`,
].join("\n"));
await build({
  entryPoints: [join(work, "entry.ts")], outfile: join(work, "agent.mjs"), bundle: true, format: "esm", platform: "node", target: "node20",
  external: ["pkcs11js"], define: { __AGENT_VERSION__: '"0.0.0-fuzz"' }, logLevel: "warning",
  banner: { js: 'import{createRequire as __raaCreateRequire}from"node:module";const require=__raaCreateRequire(import.meta.url);' },
});
const agent = await import(join(work, "agent.mjs"));

// --- DER ---------------------------------------------------------------------------------------------------------------
const len = (n) => (n < 0x80 ? Buffer.from([n]) : (() => { const b = []; for (let v = n; v > 0; v = Math.floor(v / 256)) b.unshift(v & 0xff); return Buffer.from([0x80 | b.length, ...b]); })());
/** A node: { tag, content } (primitive, or a constructed one kept as bytes) or { tag, children }; `ber` pads its length. */
function parse(buf) {
  const nodes = [];
  let i = 0;
  while (i < buf.length) {
    const tag = buf[i];
    let n = buf[i + 1], h = 2;
    if (n & 0x80) { const k = n & 0x7f; n = 0; for (let j = 0; j < k; j++) n = n * 256 + buf[i + 2 + j]; h = 2 + k; }
    const content = buf.subarray(i + h, i + h + n);
    let node = { tag, content: Buffer.from(content) };
    if (tag & 0x20) { try { node = { tag, children: parse(content) }; } catch { /* kept as bytes */ } }
    nodes.push(node);
    i += h + n;
  }
  if (i !== buf.length) throw new Error("bad DER");
  return nodes;
}
function encode(node) {
  const content = node.children ? Buffer.concat(node.children.map(encode)) : node.content;
  if (node.indefinite) return Buffer.concat([Buffer.from([node.tag, 0x80]), content, Buffer.from([0, 0])]);
  const l = node.ber ? Buffer.from([0x84, ...[24, 16, 8, 0].map((s) => (content.length >>> s) & 0xff)]) : len(content.length);
  return Buffer.concat([Buffer.from([node.tag]), l, content]);
}
const tlv = (tag, content) => ({ tag, content: Buffer.from(content) });
const cons = (tag, ...children) => ({ tag, children });
const oidNode = (text) => {
  const arcs = text.split(".").map(BigInt);
  const body = [40n * arcs[0] + arcs[1], ...arcs.slice(2)].flatMap((a) => {
    const b = [Number(a & 0x7fn)];
    for (a >>= 7n; a > 0n; a >>= 7n) b.unshift(Number(a & 0x7fn) | 0x80);
    return b;
  });
  return tlv(0x06, body);
};
const intNode = (hex) => tlv(0x02, Buffer.from(hex, "hex"));
const u16 = (v) => Buffer.from([v >> 8, v & 0xff]);
const policyEntry = (codeHex, body, codeTag = 0xa0, bodyTag = 0xa1) => cons(0x30, cons(codeTag, intNode(codeHex)), cons(bodyTag, tlv(0x04, body)));
const pemOf = (der, label = "TSS2 PRIVATE KEY", width = 64, eol = "\n") =>
  `-----BEGIN ${label}-----${eol}${der.toString("base64").match(new RegExp(`.{1,${width}}`, "g")).join(eol)}${eol}-----END ${label}-----${eol}`;
const derOfPem = (pem) => Buffer.from(pem.split("\n").filter((l) => l && !l.startsWith("-----")).join(""), "base64");

// --- seeds -------------------------------------------------------------------------------------------------------------
const PW = "fuzz-pw-1234";
writeFileSync(join(work, "pw"), PW, { mode: 0o600 });
const seeds = [];
function addSeed(name, path, password, maker) {
  const der = derOfPem(readFileSync(path, "utf8"));
  seeds.push({ name, password, maker, der, tree: parse(der)[0] });
}
const P = ["-provider", "tpm2", "-provider", "default"];
for (const [name, opts, pw] of [
  ["openssl-p256", ["-algorithm", "EC", "-pkeyopt", "group:P-256"]],
  ["openssl-p384-pw", ["-algorithm", "EC", "-pkeyopt", "group:P-384", "-pkeyopt", `user-auth:${PW}`], PW],
  ["openssl-rsa2048", ["-algorithm", "RSA", "-pkeyopt", "bits:2048"]],
  ["openssl-p256-persistent", ["-algorithm", "EC", "-pkeyopt", "group:P-256", "-pkeyopt", "parent:0x81000001"]],
  ["openssl-p256-persistent-pw", ["-algorithm", "EC", "-pkeyopt", "group:P-256", "-pkeyopt", "parent:0x81000001", "-pkeyopt", `user-auth:${PW}`], PW],
]) {
  must("openssl", ["genpkey", ...P, ...opts, "-out", `${name}.pem`]);
  addSeed(name, join(work, `${name}.pem`), pw, "tpm2-openssl");
}
for (const [name, opts, pw] of [
  ["agent-p256", ["--key-type", "p256"]],
  ["agent-rsa2048", ["--key-type", "rsa2048"]],
  ["agent-p384-persistent", ["--key-type", "p384", "--tpm-parent", "0x81000001"]],
  ["agent-p256-pcr-pw", ["--key-type", "p256", "--tpm-pcr", "sha256:0,7", "--tpm-key-password-file", join(work, "pw")], PW],
]) {
  const path = join(work, `${name}.pem`);
  const r = spawnSync(process.execPath, [CLI, "keygen", "--private-key", path, "--tpm-device", DEVICE, ...opts], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`keygen ${name}: ${r.stderr}`);
  addSeed(name, path, pw, "agent keygen");
}

// tpm2-tools keys under 0x81000001 with the attributes, schemes and name algorithms the other producers do not write,
// put in TSS2 files here (emptyAuth FALSE when the key has a password).
const A = "sensitivedataorigin|userwithauth";
for (const [name, alg, attributes, pw, nameAlg] of [
  ["tools-p256-duplicable", "ecc256", `${A}|sign`],
  ["tools-p256-restricted", "ecc256:ecdsa-sha256:null", `fixedtpm|fixedparent|${A}|sign|restricted`],
  ["tools-p521", "ecc521", `fixedtpm|fixedparent|${A}|sign`],
  ["tools-rsa3072", "rsa3072", `fixedtpm|fixedparent|${A}|sign`],
  ["tools-p384-sha384-name", "ecc384", `fixedtpm|fixedparent|${A}|sign`, undefined, "sha384"],
  ["tools-rsa-decrypt-only", "rsa2048:null:null", `fixedtpm|fixedparent|${A}|decrypt`],
  ["tools-p256-decrypt-only", "ecc256:null:null", `fixedtpm|fixedparent|${A}|decrypt`],
  ["tools-p256-no-userwithauth", "ecc256", "fixedtpm|fixedparent|sensitivedataorigin|sign"],
  ["tools-rsa-rsapss", "rsa2048:rsapss-sha256:null", `fixedtpm|fixedparent|${A}|sign`],
  ["tools-rsa-rsassa-sha384", "rsa2048:rsassa-sha384:null", `fixedtpm|fixedparent|${A}|sign`],
  ["tools-p256-ecdsa-sha512", "ecc256:ecdsa-sha512:null", `fixedtpm|fixedparent|${A}|sign`],
  ["tools-p256-noda-pw", "ecc256", `fixedtpm|fixedparent|${A}|sign|noda`, PW],
  ["tools-rsa-sign-decrypt", "rsa2048", `fixedtpm|fixedparent|${A}|sign|decrypt`],
]) {
  must("tpm2_create", ["-C", "0x81000001", "-G", alg, "-g", nameAlg ?? "sha256", "-a", attributes, ...(pw ? ["-p", pw] : []), "-u", `${name}.pub`, "-r", `${name}.priv`, "-Q"]);
  must("tpm2_flushcontext", ["-t"]);
  const [pub, priv] = ["pub", "priv"].map((x) => readFileSync(join(work, `${name}.${x}`)));
  const tree = cons(0x30, oidNode("2.23.133.10.1.3"), cons(0xa0, tlv(0x01, [pw ? 0 : 0xff])), intNode("0081000001"), tlv(0x04, pub), tlv(0x04, priv));
  seeds.push({ name, password: pw, maker: "tpm2-tools", der: encode(tree), tree });
}

// --- mutations ---------------------------------------------------------------------------------------------------------
const fields = (t) => t.children;
const at = (t, tag) => fields(t).findIndex((n) => n.tag === tag);
const parentIdx = (t) => at(t, 0x02);
/** Puts a context-tagged field [n] in its place (before higher tags and the parent), replacing one already there. */
function setTagged(t, node) {
  const f = fields(t);
  const old = f.findIndex((x) => x.tag === node.tag);
  if (old >= 0) { f[old] = node; return; }
  let i = 1;
  while (i < f.length && (f[i].tag & 0xe0) === 0xa0 && (f[i].tag & 0x1f) < (node.tag & 0x1f)) i++;
  f.splice(i, 0, node);
}
const drop = (t, tag) => { const i = at(t, tag); if (i >= 0) fields(t).splice(i, 1); };
const blob = (t, which) => fields(t)[parentIdx(t) + (which === "pub" ? 1 : 2)];

/** Offsets inside TPMT_PUBLIC (after the TPM2B size) of the fields the public-area mutations change. */
function publicLayout(p) {
  const type = p.readUInt16BE(0);
  const apLen = p.readUInt16BE(8);
  let o = 10 + apLen;
  const sym = o; o += p.readUInt16BE(o) === 0x0010 ? 2 : 6;
  const scheme = o; o += p.readUInt16BE(o) === 0x0010 ? 2 : 4;
  const layout = { type, authPolicy: 8, sym, scheme };
  if (type === 0x0001) { layout.keyBits = o; layout.exponent = o + 2; layout.unique = o + 6; }
  else if (type === 0x0023) { layout.curve = o; o += 2; layout.kdf = o; o += p.readUInt16BE(o) === 0x0010 ? 2 : 4; layout.unique = o; }
  return layout;
}
/** Changes TPMT_PUBLIC; `keepSize` leaves the TPM2B size as it was. */
function editPublic(t, fn, keepSize = false) {
  const node = blob(t, "pub");
  const area = Buffer.from(node.content.subarray(2));
  const next = fn(area, publicLayout(area)) ?? area;
  node.content = Buffer.concat([keepSize ? node.content.subarray(0, 2) : u16(next.length), next]);
}
const ATTRIBUTES = { fixedTPM: 0x2, stClear: 0x4, fixedParent: 0x10, sensitiveDataOrigin: 0x20, userWithAuth: 0x40, adminWithPolicy: 0x80, noDA: 0x400, encryptedDuplication: 0x800, restricted: 0x10000, decrypt: 0x20000, sign: 0x40000 };

const PARENTS = {
  owner: "40000001", null: "40000007", endorsement: "4000000b", platform: "4000000c", zero: "00", minusOne: "ff",
  "persistent-5byte": "0081000001", "persistent-negative": "81000001", "owner-leading-zeros": "0000000040000001",
  "owner-33bit": "0140000001", empty: "", transient: "0080000001", nv: "01000001", "absent-persistent": "0081000002",
  "persistent-range-end": "0081ffffff", lockout: "4000000a", "rh-first": "40000000", "owner-minus-2^32": "ff40000001",
  // Not minimal (DER forbids a leading 00 before a byte below 80, or ff before one above 7f): the same values.
  "owner-padded": "0040000001", "persistent-padded": "000081000001", "persistent-negative-padded": "ff81000001", "zero-padded": "0000",
};

const MUTATIONS = {
  "emptyAuth absent": (t) => drop(t, 0xa0),
  "emptyAuth FALSE": (t) => setTagged(t, cons(0xa0, tlv(0x01, [0x00]))),
  "emptyAuth TRUE": (t) => setTagged(t, cons(0xa0, tlv(0x01, [0xff]))),
  "emptyAuth 01": (t) => setTagged(t, cons(0xa0, tlv(0x01, [0x01]))),
  "emptyAuth 02": (t) => setTagged(t, cons(0xa0, tlv(0x01, [0x02]))),
  "emptyAuth two octets": (t) => setTagged(t, cons(0xa0, tlv(0x01, [0xff, 0xff]))),
  "emptyAuth implicit [0]": (t) => { drop(t, 0xa0); fields(t).splice(1, 0, tlv(0x80, [0xff])); },
  "emptyAuth as INTEGER": (t) => setTagged(t, cons(0xa0, intNode("01"))),
  "OID importable .4": (t) => (fields(t)[0] = oidNode("2.23.133.10.1.4")),
  "OID sealed .5": (t) => (fields(t)[0] = oidNode("2.23.133.10.1.5")),
  "OID .2": (t) => (fields(t)[0] = oidNode("2.23.133.10.1.2")),
  "OID .3.0": (t) => (fields(t)[0] = oidNode("2.23.133.10.1.3.0")),
  "OID rsaEncryption": (t) => (fields(t)[0] = oidNode("1.2.840.113549.1.1.1")),
  "OID as OCTET STRING": (t) => (fields(t)[0] = tlv(0x04, fields(t)[0].content)),
  ...Object.fromEntries(Object.entries(PARENTS).map(([k, hex]) => [`parent ${k}`, (t) => (fields(t)[parentIdx(t)] = intNode(hex))])),
  "parent as OCTET STRING": (t) => (fields(t)[parentIdx(t)].tag = 0x04),
  "policy empty list": (t) => setTagged(t, cons(0xa1, cons(0x30))),
  "policy removed": (t) => drop(t, 0xa1),
  "policy PolicyAuthValue added": (t) => setTagged(t, cons(0xa1, cons(0x30, policyEntry("016b", [])))),
  "policy unknown command": (t) => setTagged(t, cons(0xa1, cons(0x30, policyEntry("0fff", [1, 2, 3])))),
  "policy PolicySecret": (t) => setTagged(t, cons(0xa1, cons(0x30, policyEntry("0151", [0, 0])))),
  "policy PolicyOR": (t) => setTagged(t, cons(0xa1, cons(0x30, policyEntry("0171", [0, 0, 0, 0])))),
  "policy code tagged [2]": (t) => setTagged(t, cons(0xa1, cons(0x30, policyEntry("016b", [], 0xa2)))),
  "policy body tagged [0]": (t) => setTagged(t, cons(0xa1, cons(0x30, policyEntry("016b", [], 0xa0, 0xa0)))),
  "policy implicit tags": (t) => setTagged(t, cons(0xa1, cons(0x30, cons(0x30, tlv(0x80, [0x01, 0x6b]), tlv(0x81, []))))),
  "policy entry as SET": (t) => setTagged(t, cons(0xa1, cons(0x30, { ...policyEntry("016b", []), tag: 0x31 }))),
  "policy list as SET": (t) => setTagged(t, cons(0xa1, cons(0x31, policyEntry("016b", [])))),
  "policy code negative": (t) => setTagged(t, cons(0xa1, cons(0x30, policyEntry("ff", [])))),
  "policy code padded": (t) => { const i = at(t, 0xa1); if (i >= 0) fields(t)[i].children[0].children[0].children[0].children[0].content = Buffer.from("0000016b", "hex"); },
  "policy entries reversed": (t) => { const i = at(t, 0xa1); if (i >= 0) fields(t)[i].children[0].children?.reverse(); },
  "secret [2]": (t) => setTagged(t, cons(0xa2, tlv(0x04, [1, 2, 3, 4]))),
  "secret [2] empty": (t) => setTagged(t, cons(0xa2, tlv(0x04, []))),
  "authPolicy [3]": (t) => setTagged(t, cons(0xa3, cons(0x30, cons(0x30, cons(0xa1, cons(0x30, policyEntry("016b", []))))))),
  "authPolicy [3] empty": (t) => setTagged(t, cons(0xa3, cons(0x30))),
  "description [4]": (t) => setTagged(t, cons(0xa4, tlv(0x0c, Buffer.from("fuzz key")))),
  "description [4] as OCTET STRING": (t) => setTagged(t, cons(0xa4, tlv(0x04, Buffer.from("fuzz key")))),
  "rsaParent [5] TRUE": (t) => setTagged(t, cons(0xa5, tlv(0x01, [0xff]))),
  "rsaParent [5] FALSE": (t) => setTagged(t, cons(0xa5, tlv(0x01, [0x00]))),
  "unknown [6]": (t) => setTagged(t, cons(0xa6, tlv(0x04, [0xaa]))),
  "unknown [30]": (t) => setTagged(t, cons(0xbe, tlv(0x05, []))),
  "field after privkey": (t) => fields(t).push(intNode("01")),
  "privkey removed": (t) => fields(t).pop(),
  "pub and priv swapped": (t) => { const i = parentIdx(t); [fields(t)[i + 1], fields(t)[i + 2]] = [fields(t)[i + 2], fields(t)[i + 1]]; },
  ...Object.fromEntries(["pub", "priv"].flatMap((w) => [
    [`${w} TPM2B size +1`, (t) => { const b = blob(t, w); b.content.writeUInt16BE(b.content.readUInt16BE(0) + 1, 0); }],
    [`${w} TPM2B size -1`, (t) => { const b = blob(t, w); b.content.writeUInt16BE(b.content.readUInt16BE(0) - 1, 0); }],
    [`${w} TPM2B size 0`, (t) => { blob(t, w).content.writeUInt16BE(0, 0); }],
    [`${w} a byte more, size kept`, (t) => { const b = blob(t, w); b.content = Buffer.concat([b.content, Buffer.from([0])]); }],
    [`${w} a byte more, size +1`, (t) => { const b = blob(t, w); b.content = Buffer.concat([b.content, Buffer.from([0])]); b.content.writeUInt16BE(b.content.length - 2, 0); }],
    [`${w} last byte cut, size -1`, (t) => { const b = blob(t, w); b.content = b.content.subarray(0, -1); b.content.writeUInt16BE(b.content.length - 2, 0); }],
    [`${w} without TPM2B size`, (t) => { const b = blob(t, w); b.content = b.content.subarray(2); }],
    [`${w} empty`, (t) => { blob(t, w).content = Buffer.alloc(0); }],
    [`${w} byte flipped`, (t) => { const b = blob(t, w); const i = 2 + int(b.content.length - 2); b.content[i] ^= 1 << int(8); }],
  ])),
  ...Object.fromEntries(Object.entries(ATTRIBUTES).map(([k, bit]) => [`attribute ${k} toggled`, (t) => editPublic(t, (a) => void a.writeUInt32BE((a.readUInt32BE(4) ^ bit) >>> 0, 4))])),
  "nameAlg SHA-1": (t) => editPublic(t, (a) => void a.writeUInt16BE(0x0004, 2)),
  "nameAlg SHA-384": (t) => editPublic(t, (a) => void a.writeUInt16BE(0x000c, 2)),
  "nameAlg unknown": (t) => editPublic(t, (a) => void a.writeUInt16BE(0x00aa, 2)),
  "type keyedhash": (t) => editPublic(t, (a) => void a.writeUInt16BE(0x0008, 0)),
  "type RSA<->ECC": (t) => editPublic(t, (a) => void a.writeUInt16BE(a.readUInt16BE(0) === 1 ? 0x23 : 1, 0)),
  "authPolicy set": (t) => editPublic(t, (a, l) => Buffer.concat([a.subarray(0, 8), u16(32), Buffer.alloc(32, 7), a.subarray(10 + a.readUInt16BE(8))])),
  "scheme ECDSA/RSASSA-SHA256": (t) => editPublic(t, (a, l) => Buffer.concat([a.subarray(0, l.scheme), u16(l.type === 1 ? 0x14 : 0x18), u16(0x0b), a.subarray(l.scheme + (a.readUInt16BE(l.scheme) === 0x10 ? 2 : 4))])),
  "scheme ECDSA/RSASSA-SHA384": (t) => editPublic(t, (a, l) => Buffer.concat([a.subarray(0, l.scheme), u16(l.type === 1 ? 0x14 : 0x18), u16(0x0c), a.subarray(l.scheme + (a.readUInt16BE(l.scheme) === 0x10 ? 2 : 4))])),
  "scheme RSAPSS/ECDH": (t) => editPublic(t, (a, l) => Buffer.concat([a.subarray(0, l.scheme), u16(l.type === 1 ? 0x16 : 0x19), u16(0x0b), a.subarray(l.scheme + (a.readUInt16BE(l.scheme) === 0x10 ? 2 : 4))])),
  "scheme unknown": (t) => editPublic(t, (a, l) => void a.writeUInt16BE(0x0099, l.scheme)),
  "symmetric AES-128-CFB": (t) => editPublic(t, (a, l) => Buffer.concat([a.subarray(0, l.sym), u16(0x06), u16(128), u16(0x43), a.subarray(l.sym + (a.readUInt16BE(l.sym) === 0x10 ? 2 : 6))])),
  "curve or key bits changed": (t) => editPublic(t, (a, l) => void (l.type === 1 ? a.writeUInt16BE(pick([1024, 3072, 4096, 0, 2047]), l.keyBits) : a.writeUInt16BE(pick([0x0003, 0x0004, 0x0005, 0x0010, 0x0099]), l.curve))),
  "RSA exponent 65537 explicit / ECC kdf": (t) => editPublic(t, (a, l) => (l.type === 1 ? void a.writeUInt32BE(pick([65537, 3, 1, 0xffffffff]), l.exponent) : Buffer.concat([a.subarray(0, l.kdf), u16(0x20), u16(0x0b), a.subarray(l.kdf + 2)]))),
  "unique shortened": (t) => editPublic(t, (a, l) => { const n = a.readUInt16BE(l.unique); return Buffer.concat([a.subarray(0, l.unique), u16(n - 1), a.subarray(l.unique + 2, l.unique + 1 + n), a.subarray(l.unique + 2 + n)]); }),
  "unique lengthened": (t) => editPublic(t, (a, l) => { const n = a.readUInt16BE(l.unique); return Buffer.concat([a.subarray(0, l.unique), u16(n + 1), Buffer.from([0]), a.subarray(l.unique + 2)]); }),
  "unique emptied": (t) => editPublic(t, (a, l) => (l.type === 1 ? Buffer.concat([a.subarray(0, l.unique), u16(0)]) : Buffer.concat([a.subarray(0, l.unique), u16(0), u16(0)]))),
  "public area a byte more, size kept": (t) => editPublic(t, (a) => Buffer.concat([a, Buffer.from([0])]), true),
  "public area a byte more": (t) => editPublic(t, (a) => Buffer.concat([a, Buffer.from([0])])),
  "BER length on the outer SEQUENCE": (t) => void (t.ber = true),
  "BER length on a field": (t) => void (pick(fields(t)).ber = true),
  "BER indefinite length on the outer SEQUENCE": (t) => void (t.indefinite = true),
  "BER indefinite length on a constructed field": (t) => { const c = fields(t).filter((n) => n.children); if (c.length) pick(c).indefinite = true; },
};
const ONLY = process.env.TSS2_FUZZ_ONLY ? new RegExp(process.env.TSS2_FUZZ_ONLY) : undefined;
const MUTATION_NAMES = Object.keys(MUTATIONS).filter((name) => !ONLY || ONLY.test(name));

/** How the DER becomes the file. */
const FORMS = {
  PEM: (der) => pemOf(der),
  DER: (der) => der,
  "PEM CRLF": (der) => pemOf(der, undefined, 64, "\r\n"),
  "PEM one line": (der) => pemOf(der, undefined, 100000),
  "PEM 76 columns": (der) => pemOf(der, undefined, 76),
  "PEM after text": (der) => `a TPM key\n${pemOf(der)}`,
  "PEM after an EC PARAMETERS block": (der) => `${pemOf(Buffer.from("06082a8648ce3d030107", "hex"), "EC PARAMETERS")}${pemOf(der)}`,
  "PEM, trailing text": (der) => `${pemOf(der)}trailing words\n`,
  "DER, two bytes after": (der) => Buffer.concat([der, Buffer.from([0, 0])]),
  "PEM of DER with two bytes after": (der) => pemOf(Buffer.concat([der, Buffer.from([5, 0])])),
  "PEM, label TSS2 KEY BLOB": (der) => pemOf(der, "TSS2 KEY BLOB"),
  "PEM, then another key's TSS2 block": (der) => `${pemOf(der)}${pemOf(seeds[1].der)}`,
  "PEM without the last newline": (der) => pemOf(der).trimEnd(),
  "PEM, blanks after each line": (der) => pemOf(der).replace(/\n/g, "  \n"),
  "PEM, a blank line inside the base64": (der) => pemOf(der).replace(/\n(?=[^-])/, "\n\n"),
  "PEM, a header before the base64": (der) => pemOf(der).replace("-----\n", "-----\nComment: fuzz\n\n"),
  "PEM, base64 without padding": (der) => pemOf(der).replace(/=+\n/, "\n"),
  "PEM, label in lower case": (der) => pemOf(der, "tss2 private key"),
};
const FORM_NAMES = Object.keys(FORMS);

// --- one case ----------------------------------------------------------------------------------------------------------
const MESSAGE = Buffer.from("tss2 differential fuzz\n");
writeFileSync(join(work, "msg.sha256"), createHash("sha256").update(MESSAGE).digest());
writeFileSync(join(work, "msg"), MESSAGE);
const clone = (n) => (n.children ? { ...n, children: n.children.map(clone) } : { ...n, content: Buffer.from(n.content) });
const verifies = (key, sig) => { try { return verify("sha256", MESSAGE, key, sig); } catch { return false; } };

function oracle(file, password) {
  const pass = ["-passin", `pass:${password ?? ""}`];
  const sig = join(work, "oracle.sig");
  rmSync(sig, { force: true });
  const s = run("openssl", ["pkeyutl", ...P, "-sign", "-inkey", file, ...pass, "-in", "msg.sha256", "-out", sig, "-pkeyopt", "digest:sha256"]);
  const lastLine = (r) => `${r.stderr}`.trim().split("\n").filter((l) => !/tcti|dbus|CRITICAL/.test(l)).slice(-1)[0] ?? "";
  if (s.status !== 0 || !existsSync(sig)) {
    // openssl dgst: tpm2-openssl hashes in the TPM then, so a restricted key gets its hash ticket.
    const d = run("openssl", ["dgst", ...P, "-propquery", "?provider=tpm2", "-sha256", "-sign", file, ...pass, "-out", sig, "msg"]);
    if (d.status !== 0 || !existsSync(sig)) return { signs: false, why: lastLine(s) };
  }
  let pub = run("openssl", ["pkey", ...P, "-in", file, ...pass, "-pubout"]);
  if (pub.status !== 0) {
    // pkey takes a PEM header for an encryption header (`not proc type`) where dgst's loader reads the key: the
    // public key then comes from the block's DER (its base64 lines alone).
    const text = readFileSync(file, "latin1");
    const block = /-----BEGIN TSS2 PRIVATE KEY-----([^]*?)-----END/.exec(text)?.[1] ?? "";
    writeFileSync(join(work, "oracle.der"), Buffer.from(block.split(/\r?\n/).filter((l) => !l.includes(":")).join(""), "base64"));
    pub = run("openssl", ["pkey", ...P, "-in", "oracle.der", ...pass, "-pubout"]);
    if (pub.status !== 0) return { signs: false, why: `signed, but pkey -pubout: ${lastLine(pub)}` };
  }
  const key = createPublicKey(pub.stdout);
  if (!verifies(key, readFileSync(sig))) return { signs: false, why: "signed, but the signature does not verify", bad: true };
  return { signs: true, key: key.export({ type: "spki", format: "der" }).toString("hex") };
}

async function agentSigns(file, password) {
  let signer;
  try {
    const tpm = { device: DEVICE, ...(password ? { keyPassword: { kind: "value", value: password } } : { noKeyPassword: true }) };
    signer = await agent.createSigner({ privateKey: file, tpm, prompt: false });
    const sig = await signer.sign(MESSAGE, "SHA256");
    const key = await signer.publicKey();
    if (!key || !verifies(key, sig)) return { signs: false, why: "signed, but the signature does not verify", bad: true };
    return { signs: true, key: key.export({ type: "spki", format: "der" }).toString("hex") };
  } catch (e) {
    const internal = !agent.isAgentError(e) || /\n/.test(e.message);
    return { signs: false, code: agent.isAgentError(e) ? e.code : e?.constructor?.name, why: e?.message ?? String(e), internal };
  } finally {
    await signer?.close().catch(() => undefined);
  }
}

/**
 * The differences docs/tpm.md ("Differences from tpm2-openssl") and SECURITY.md describe, by what the case's file holds
 * and the agent's message; undefined for any other disagreement.
 */
function documented(s, tree, o, a, formName) {
  if (formName === "PEM, then another key's TSS2 block" && o.signs && a.key !== o.key) {
    return "a second TSS2 block: the agent reads the first, tpm2-openssl the first it can load";
  }
  const f = tree.children ?? [];
  const has = (tag) => f.some((n) => n.tag === tag);
  if (a.signs && !o.signs) {
    const policy = f.find((n) => n.tag === 0xa1)?.children?.[0]?.children;
    if (policy?.length > 0) return "a policy (tpm2-openssl 1.1.1 has none)";
    if (f.some((n) => (n.tag & 0xe0) === 0xa0 && (n.tag & 0x1f) >= 3) || policy?.length === 0) {
      return "description [4], rsaParent [5], a later field, an empty policy or authPolicy list (tpm2-openssl 1.1.1 refuses them)";
    }
    if (!has(0xa0) && s.password) return "emptyAuth absent: the agent uses the password, tpm2-openssl an empty one";
    try {
      const area = f[f.findIndex((n) => n.tag === 0x02) + 1].content.subarray(2);
      const l = publicLayout(area);
      const attributes = area.readUInt32BE(4);
      if (l.type === 0x0001 && !(attributes & ATTRIBUTES.sign) && attributes & ATTRIBUTES.decrypt) return "an RSA key without the sign attribute (the agent signs through TPM2_RSA_Decrypt)";
      if (l.type === 0x0023 && area.readUInt16BE(l.scheme) === 0x0018 && area.readUInt16BE(l.scheme + 2) !== 0x000b) return "an ECC key fixed to ECDSA with another hash than the one asked for";
    } catch { /* a public area cut short: not one of these */ }
  }
  if (o.signs && !a.signs) {
    if (/is followed by \d+ bytes/.test(a.why)) return "bytes after the key";
    if (/invalid length for TPMv2 (PUBLIC|PRIVATE) blob|unexpected trailing bytes/.test(a.why)) return "a TPM2B size other than its OCTET STRING's, or bytes after the public area";
    if (/parent handle is not a 32-bit value/.test(a.why)) return "a parent INTEGER outside 32 bits";
    if (/restricted TPM keys/.test(a.why)) return "a restricted signing key (tpm2-openssl's dgst hashes in the TPM for its ticket)";
    if ((tree.indefinite || f.some((n) => n.indefinite)) && /not a valid TSS2 PRIVATE KEY structure/.test(a.why)) return "BER indefinite lengths";
  }
  return undefined;
}

// --- run ---------------------------------------------------------------------------------------------------------------
const groups = new Map();
const counts = { cases: 0, agree: 0, agreeSign: 0, agreeRefuse: 0, documented: 0, disagree: 0, internal: 0 };
const started = process.cpuUsage();
const blank = (text = "") => text.replace(/\/[^\s:,)]*/g, "PATH").replace(/0x[0-9a-f]+/gi, "0x…").replace(/\d+/g, "N");

for (let n = 0; n < CASES; n++) {
  const s = n < seeds.length ? seeds[n] : pick(seeds);
  const tree = clone(s.tree);
  const applied = [];
  const count = n < seeds.length ? 0 : 1 + (random() < 0.3 ? 1 : 0);
  for (let k = 0; k < count; k++) {
    const name = pick(MUTATION_NAMES);
    try { MUTATIONS[name](tree); applied.push(name); } catch { /* not applicable to this seed */ }
  }
  const formName = n < seeds.length || random() < 0.7 ? "PEM" : pick(FORM_NAMES);
  const der = encode(tree);
  const file = join(work, `case-${n}${formName.startsWith("DER") ? ".der" : ".pem"}`);
  writeFileSync(file, FORMS[formName](der), { mode: 0o600 });

  const o = oracle(file, s.password);
  const a = await agentSigns(file, s.password);
  counts.cases++;
  if (a.internal) counts.internal++;
  let kind;
  if (o.signs && a.signs) kind = o.key === a.key ? "agree: both sign, same key" : "DISAGREE: both sign, different keys";
  else if (!o.signs && !a.signs) kind = a.internal ? "DISAGREE: both refuse, but the agent's error is internal" : "agree: both refuse";
  else if (o.signs) kind = `DISAGREE: tpm2-openssl signs, the agent refuses (${a.code})`;
  else kind = "DISAGREE: the agent signs, tpm2-openssl refuses";
  const why = kind.startsWith("DISAGREE") && !a.internal ? documented(s, tree, o, a, formName) : undefined;
  if (why) kind = `documented: ${why}`;
  if (kind.startsWith("agree")) { counts.agree++; kind.includes("sign") && !kind.includes("refuse") ? counts.agreeSign++ : counts.agreeRefuse++; }
  else if (why) counts.documented++;
  else counts.disagree++;
  const detail = kind.startsWith("DISAGREE") ? (a.signs ? blank(o.why) : blank(a.why)) : "";
  const key = `${kind} | ${applied.join(" + ") || "(none)"} | ${formName} | ${detail}`;
  const g = groups.get(key) ?? { kind, applied, formName, detail, n: 0, example: undefined };
  g.n++;
  if (!g.example) {
    g.example = { n, seed: s.name, file, oracle: o.signs ? "signs" : o.why, agent: a.signs ? "signs" : `${a.code}: ${a.why}` };
    g.bytes = readFileSync(file);
    if (kind.startsWith("DISAGREE")) writeFileSync(join(out, `case-${n}${formName.startsWith("DER") ? ".der" : ".pem"}`), readFileSync(file));
  }
  groups.set(key, g);
  if (!(kind.startsWith("DISAGREE") && g.n === 1)) rmSync(file);
  if (n % 100 === 99) { clearLockout(); run("tpm2_flushcontext", ["-t"]); process.stderr.write(`${n + 1} cases, ${counts.disagree} disagreements\n`); }
}

// --- the CLI on one example of each refusal kind: one line, the documented exit status -------------------------------
const cliChecks = [];
const byAgentCode = new Map();
for (const g of groups.values()) {
  const code = /^([A-Z_]+):/.exec(g.example.agent)?.[1];
  if (code && !byAgentCode.has(`${code} ${blank(g.example.agent)}`)) byAgentCode.set(`${code} ${blank(g.example.agent)}`, g);
}
for (const [k, g] of [...byAgentCode].slice(0, 60)) {
  const seedOf = seeds.find((x) => x.name === g.example.seed);
  const file = join(work, "cli-case" + (g.formName.startsWith("DER") ? ".der" : ".pem"));
  writeFileSync(file, g.bytes, { mode: 0o600 });
  const pw = seedOf.password ? ["--tpm-key-password", seedOf.password] : ["--no-tpm-key-password"];
  const r = spawnSync(process.execPath, [CLI, "sign-string", "--private-key", file, "--tpm-device", DEVICE, ...pw, "--format", "text"], { encoding: "utf8" });
  const lines = r.stderr.trim().split("\n").filter(Boolean);
  const code = k.split(" ")[0];
  const expected = agent.EXIT_CODES[agent.ERROR_CODES[code]];
  const ok = r.status !== 0 && lines.length === 1 && (expected === undefined || r.status === expected);
  cliChecks.push({ code, case: g.example.n, mutations: g.applied.join(" + "), status: r.status, expected, ok, line: lines.join(" ⏎ ").slice(0, 300) });
}

stopSwtpm();
const cpu = process.cpuUsage(started);
const report = {
  tpm2openssl: `${spawnSync("openssl", ["list", "-providers", ...P], { env: toolEnv, encoding: "utf8" }).stdout.match(/version: ([\d.]+)/g)?.join(", ")}`,
  seeds: seeds.map((x) => `${x.name} (${x.maker}${x.password ? ", password" : ""})`),
  counts, cpuSeconds: Math.round((cpu.user + cpu.system) / 1e6),
  groups: [...groups.values()].sort((a, b) => a.kind.localeCompare(b.kind) || b.n - a.n).map(({ kind, applied, formName, detail, n, example }) => ({ kind, mutations: applied.join(" + ") || "(none)", form: formName, n, detail, example })),
  cliChecks,
};
writeFileSync(join(out, "report.json"), JSON.stringify(report, null, 1));
const kinds = new Map();
for (const g of report.groups) kinds.set(g.kind, (kinds.get(g.kind) ?? 0) + g.n);
console.log(`${counts.cases} cases: ${counts.agree} agree (${counts.agreeSign} both sign, ${counts.agreeRefuse} both refuse), ${counts.documented} documented differences, ${counts.disagree} disagree; agent internal errors: ${counts.internal}`);
for (const [k, v] of kinds) console.log(`  ${v}\t${k}`);
console.log("Disagreements by mutation:");
for (const g of report.groups.filter((x) => x.kind.startsWith("DISAGREE"))) console.log(`  ${g.n}\t${g.kind.slice(10)} | ${g.mutations} | ${g.form} | agent: ${g.example.agent.slice(0, 160)} | tpm2-openssl: ${g.example.oracle.slice(0, 120)}`);
console.log(`CLI checks: ${cliChecks.filter((c) => c.ok).length}/${cliChecks.length} one line with the documented status`);
for (const c of cliChecks.filter((x) => !x.ok)) console.log(`  case ${c.case} (${c.mutations}), ${c.code}: exit ${c.status} (expected ${c.expected}): ${c.line}`);
console.log(`report: ${join(out, "report.json")}; cpu ${report.cpuSeconds} s (this process; openssl and swtpm apart)`);
if (!process.env.TSS2_FUZZ_KEEP) rmSync(work, { recursive: true, force: true });
