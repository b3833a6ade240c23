/**
 * TPM key fixtures made with OTHER PEOPLE'S TOOLS on a test swtpm: tpm2-openssl (`openssl genpkey -provider
 * tpm2`), tpm2-tools (tpm2_createprimary/create/load/evictcontrol/encodeobject, trial policy sessions), and
 * `openssl asn1parse -genconf` to write TSS2 files carrying policies (which no installed tool writes).
 * Nothing of ours is involved in making a key. Close every client of the swtpm before calling these.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Swtpm } from "./swtpm.js";

const OSSL = ["-provider", "tpm2", "-provider", "default"];

/** The SRK template tpm2-openssl re-creates for parent 0x40000001, persisted so keys can name it as parent. */
export async function persistSrk(tpm: Swtpm, handle: number, opts: { password?: string } = {}): Promise<void> {
  const ctx = join(tpm.dir, `srk-${handle.toString(16)}.ctx`);
  await tpm.run("tpm2_createprimary", [
    "-C", "o", "-g", "sha256", "-G", "ecc256:aes128cfb",
    "-a", "restricted|decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda",
    ...(opts.password ? ["-p", opts.password] : []),
    "-c", ctx, "-Q",
  ]);
  await tpm.run("tpm2_evictcontrol", ["-C", "o", "-c", ctx, `0x${handle.toString(16)}`, "-Q"]);
  await tpm.flushAll();
}

export interface GenpkeyOptions {
  algorithm: "EC" | "RSA";
  curve?: "P-256" | "P-384";
  bits?: number;
  userAuth?: string;
  parent?: number;
  parentAuth?: string;
}

/** `openssl genpkey -provider tpm2`; returns the key path and its public key (PEM) exported by the provider. */
export async function genpkey(tpm: Swtpm, name: string, o: GenpkeyOptions): Promise<{ keyPath: string; publicKeyPath: string; pem: string }> {
  const keyPath = join(tpm.dir, `${name}.pem`);
  const publicKeyPath = join(tpm.dir, `${name}.pub.pem`);
  const opts = [
    ...(o.algorithm === "EC" ? ["-pkeyopt", `group:${o.curve ?? "P-256"}`] : ["-pkeyopt", `bits:${o.bits ?? 2048}`]),
    ...(o.userAuth ? ["-pkeyopt", `user-auth:${o.userAuth}`] : []),
    ...(o.parent ? ["-pkeyopt", `parent:0x${o.parent.toString(16)}`] : []),
    ...(o.parentAuth ? ["-pkeyopt", `parent-auth:${o.parentAuth}`] : []),
  ];
  await tpm.run("openssl", ["genpkey", ...OSSL, "-algorithm", o.algorithm, ...opts, "-out", keyPath]);
  if (o.parentAuth) {
    // tpm2-openssl 1.1.1 cannot re-open a key whose parent has a password, so print the file's pubkey field
    // (TPM2B_PUBLIC) with openssl asn1parse + tpm2_print instead.
    const dump = await tpm.run("openssl", ["asn1parse", "-in", keyPath]);
    const hex = /d=1 .*prim: OCTET STRING\s+\[HEX DUMP\]:([0-9A-F]+)/.exec(dump)?.[1];
    if (!hex) throw new Error(`no pubkey in ${keyPath}:\n${dump}`);
    const blob = join(tpm.dir, `${name}.tpub`);
    writeFileSync(blob, Buffer.from(hex, "hex"));
    writeFileSync(publicKeyPath, await tpm.run("tpm2_print", ["-t", "TPM2B_PUBLIC", "-f", "pem", blob]));
  } else {
    await tpm.run("openssl", ["pkey", ...OSSL, "-in", keyPath, ...(o.userAuth ? ["-passin", `pass:${o.userAuth}`] : []), "-pubout", "-out", publicKeyPath]);
  }
  return { keyPath, publicKeyPath, pem: readFileSync(keyPath, "utf8") };
}

export interface Tpm2CreateOptions {
  /** tpm2_create -G, e.g. "ecc256", "ecc384", "rsa2048", "rsa2048:null:null". */
  alg: string;
  attributes: string;
  parent: number;
  password?: string;
  policyDigestPath?: string;
}

/** tpm2_create under a persistent parent; returns the paths of the TPM2B_PUBLIC / TPM2B_PRIVATE files. */
export async function tpm2Create(tpm: Swtpm, name: string, o: Tpm2CreateOptions): Promise<{ pub: string; priv: string }> {
  const pub = join(tpm.dir, `${name}.tpub`);
  const priv = join(tpm.dir, `${name}.tpriv`);
  await tpm.run("tpm2_create", [
    "-C", `0x${o.parent.toString(16)}`, "-G", o.alg, "-a", o.attributes,
    ...(o.password ? ["-p", o.password] : []),
    ...(o.policyDigestPath ? ["-L", o.policyDigestPath] : []),
    "-u", pub, "-r", priv, "-Q",
  ]);
  await tpm.flushAll();
  return { pub, priv };
}

/** tpm2_create + tpm2_load + tpm2_evictcontrol: a persistent key at `handle`; returns its public key PEM path. */
export async function persistentKey(tpm: Swtpm, name: string, handle: number, o: Tpm2CreateOptions): Promise<{ publicKeyPath: string }> {
  const { pub, priv } = await tpm2Create(tpm, name, o);
  const ctx = join(tpm.dir, `${name}.ctx`);
  await tpm.run("tpm2_load", ["-C", `0x${o.parent.toString(16)}`, "-u", pub, "-r", priv, "-c", ctx, "-Q"]);
  await tpm.run("tpm2_evictcontrol", ["-C", "o", "-c", ctx, `0x${handle.toString(16)}`, "-Q"]);
  await tpm.flushAll();
  const publicKeyPath = join(tpm.dir, `${name}.pub.pem`);
  await tpm.run("tpm2_readpublic", ["-c", `0x${handle.toString(16)}`, "-f", "pem", "-o", publicKeyPath, "-Q"]);
  await tpm.flushAll();
  return { publicKeyPath };
}

/** tpm2_encodeobject (tpm2-tools 5.4 on Debian 12 — which writes emptyAuth inverted). */
export async function encodeObject(tpm: Swtpm, name: string, blobs: { pub: string; priv: string }, parent: number, hasPassword: boolean): Promise<string> {
  const out = join(tpm.dir, `${name}.pem`);
  await tpm.run("tpm2_encodeobject", ["-C", `0x${parent.toString(16)}`, "-u", blobs.pub, "-r", blobs.priv, ...(hasPassword ? ["-p"] : []), "-o", out]);
  await tpm.flushAll();
  return readFileSync(out, "utf8");
}

/** A trial policy session with tpm2-tools: PolicyPCR on `pcr` (sha256 bank), optionally then PolicyAuthValue / PolicyPassword. */
export async function trialPolicy(tpm: Swtpm, name: string, o: { pcr?: number; then?: "authvalue" | "password" }): Promise<string> {
  const session = join(tpm.dir, `${name}.session`);
  const digest = join(tpm.dir, `${name}.policy`);
  await tpm.run("tpm2_startauthsession", ["-S", session]);
  const steps: string[][] = [];
  if (o.pcr !== undefined) steps.push(["tpm2_policypcr", "-S", session, "-l", `sha256:${o.pcr}`]);
  if (o.then === "authvalue") steps.push(["tpm2_policyauthvalue", "-S", session]);
  if (o.then === "password") steps.push(["tpm2_policypassword", "-S", session]);
  steps.forEach((s, i) => {
    if (i === steps.length - 1) s.push("-L", digest);
  });
  for (const [cmd, ...args] of steps) await tpm.run(cmd!, args);
  await tpm.run("tpm2_flushcontext", [session]);
  await tpm.flushAll();
  return digest;
}

/** Current value of one sha256 PCR, read with tpm2_pcrread. */
export async function readPcr(tpm: Swtpm, pcr: number): Promise<Buffer> {
  const out = join(tpm.dir, `pcr${pcr}.bin`);
  await tpm.run("tpm2_pcrread", [`sha256:${pcr}`, "-o", out]);
  return readFileSync(out);
}

export interface PolicyEntry {
  commandCode: number;
  bodyHex: string;
}

/**
 * A TSS2 PRIVATE KEY file written by `openssl asn1parse -genconf` from tpm2-tools blobs: the encoding
 * openssl_tpm2_engine uses (EXPLICIT tags), including the policy section.
 */
export async function writeTss2File(
  tpm: Swtpm,
  name: string,
  o: { blobs: { pub: string; priv: string }; parent: number; emptyAuth?: boolean; policy?: PolicyEntry[]; extra?: string[] },
): Promise<string> {
  const hex = (p: string) => readFileSync(p).toString("hex");
  const lines = ["asn1=SEQUENCE:key", "[key]", "type=OID:2.23.133.10.1.3"];
  if (o.emptyAuth !== undefined) lines.push(`emptyAuth=EXPLICIT:0,BOOLEAN:${o.emptyAuth ? "true" : "false"}`);
  if (o.policy?.length) lines.push("policy=EXPLICIT:1,SEQUENCE:pols");
  lines.push(...(o.extra ?? []));
  lines.push(`parent=INTEGER:0x${o.parent.toString(16)}`, `pubkey=FORMAT:HEX,OCTETSTRING:${hex(o.blobs.pub)}`, `privkey=FORMAT:HEX,OCTETSTRING:${hex(o.blobs.priv)}`);
  if (o.policy?.length) {
    lines.push("[pols]", ...o.policy.map((_, i) => `p${i}=SEQUENCE:pol${i}`));
    o.policy.forEach((p, i) => {
      lines.push(`[pol${i}]`, `cc=EXPLICIT:0,INTEGER:0x${p.commandCode.toString(16)}`, p.bodyHex ? `body=EXPLICIT:1,FORMAT:HEX,OCTETSTRING:${p.bodyHex}` : "body=EXPLICIT:1,OCTETSTRING:");
    });
  }
  const conf = join(tpm.dir, `${name}.asn1.cnf`);
  const der = join(tpm.dir, `${name}.der`);
  writeFileSync(conf, lines.join("\n") + "\n");
  await tpm.run("openssl", ["asn1parse", "-genconf", conf, "-out", der, "-noout"]);
  const b64 = readFileSync(der).toString("base64").replace(/(.{64})/g, "$1\n").trim();
  const pem = `-----BEGIN TSS2 PRIVATE KEY-----\n${b64}\n-----END TSS2 PRIVATE KEY-----\n`;
  writeFileSync(join(tpm.dir, `${name}.pem`), pem);
  return pem;
}

/** TPM2_PT_LOCKOUT_COUNTER as tpm2_getcap reports it. */
export async function lockoutCounter(tpm: Swtpm): Promise<number> {
  const out = await tpm.run("tpm2_getcap", ["properties-variable"]);
  const m = /TPM2_PT_LOCKOUT_COUNTER:\s*(0x[0-9a-fA-F]+|\d+)/.exec(out);
  if (!m) throw new Error(`no lockout counter in tpm2_getcap output:\n${out}`);
  return Number(m[1]);
}

/** Transient objects left on the TPM (tpm2_getcap handles-transient). */
export async function transientHandles(tpm: Swtpm): Promise<string[]> {
  return listHandles(tpm, "handles-transient");
}

/** Sessions left on the TPM, loaded or context-saved (tpm2_getcap handles-loaded-session / -saved-session). */
export async function sessionHandles(tpm: Swtpm): Promise<string[]> {
  return [...(await listHandles(tpm, "handles-loaded-session")), ...(await listHandles(tpm, "handles-saved-session"))];
}

async function listHandles(tpm: Swtpm, what: string): Promise<string[]> {
  const out = await tpm.run("tpm2_getcap", [what]);
  return out.split("\n").map((l) => l.replace(/^-\s*/, "").trim()).filter((l) => /^0x/i.test(l));
}

/** `openssl pkeyutl -verify` with the public key the other tools exported: DER ECDSA or PKCS#1 v1.5. */
export async function opensslVerifies(tpm: Swtpm, publicKeyPath: string, message: Buffer, signature: Buffer, digest: "sha256" | "sha384" | "sha512"): Promise<boolean> {
  const msg = join(tpm.dir, "verify-msg.bin");
  const sig = join(tpm.dir, "verify-sig.bin");
  writeFileSync(msg, message);
  writeFileSync(sig, signature);
  try {
    await tpm.run("openssl", ["dgst", `-${digest}`, "-verify", publicKeyPath, "-signature", sig, msg]);
    return true;
  } catch {
    return false;
  }
}
