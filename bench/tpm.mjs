#!/usr/bin/env node
/**
 * TPM back-end cost on a private swtpm (unix socket), over dist/ (built by `npm run build`):
 * - sign latency for a loaded key: `signer.sign()` median over ≥ 200 signatures, next to `tpm2_sign` (tpm2-tools,
 *   one process per signature, same persistent key, same swtpm) — the way a shell script would sign;
 * - first-signature latency: `createTpmSigner()` (CreatePrimary of the SRK + Load + session) + the first sign +
 *   close, for a tpm2-openssl key under 0x40000001, next to `openssl pkeyutl -provider tpm2 -sign`, which does
 *   the same TPM work per call;
 * - the same with a password-protected key (salted HMAC session, parameter encryption).
 * Run alone with `node bench/tpm.mjs` (after `npm run build`; unset NODE_EXTRA_CA_CERTS).
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const LIB = join(process.env["BENCH_DIST_LIB"] ?? join(ROOT, "dist", "lib"), "signers", "tpm", "tpm-signer.js");
const SIGNATURES = Number(process.env["BENCH_TPM_SIGNATURES"] ?? 200);
const TOOL_RUNS = Number(process.env["BENCH_TPM_TOOL_RUNS"] ?? 30);
const OPEN_RUNS = Number(process.env["BENCH_TPM_OPEN_RUNS"] ?? 30);
const MESSAGE = Buffer.from("AWS4-X509-ECDSA-SHA256\n20261123T000000Z\n20261123/us-east-1/rolesanywhere/aws4_request\n" + "a".repeat(64));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;
const fmt = (x) => `${x.toFixed(2)} ms`;

function line(what, value, reference, referenceValue, n) {
  console.log(`${what}: median ${fmt(value)} | ${reference}: median ${fmt(referenceValue)} | ratio ${(value / referenceValue).toFixed(3)}× | n=${n}`);
}

async function startSwtpm(dir) {
  const sock = join(dir, "tpm.sock");
  const child = spawn(
    "swtpm",
    ["socket", "--tpm2", "--server", `type=unixio,path=${sock}`, "--ctrl", `type=unixio,path=${sock}.ctrl`, "--flags", "not-need-init,startup-clear", "--tpmstate", `dir=${dir}`],
    { stdio: "ignore" },
  );
  for (let i = 0; i < 500; i++) {
    if (existsSync(sock)) {
      const ok = await new Promise((r) => {
        const s = createConnection({ path: sock }, () => (s.destroy(), r(true)));
        s.once("error", () => r(false));
      });
      if (ok) break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const env = { ...process.env, TPM2TOOLS_TCTI: `swtpm:path=${sock}`, TPM2OPENSSL_TCTI: `swtpm:path=${sock}` };
  const tool = (cmd, args) => execFileSync(cmd, args, { env, cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const stop = async () => {
    try {
      tool("tpm2_shutdown", ["-c"]);
    } catch {}
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  };
  return { sock, device: `unix:${sock}`, env, tool, stop };
}

function timeTool(tpm, cmd, args, after) {
  const times = [];
  for (let i = 0; i < TOOL_RUNS; i++) {
    const t = process.hrtime.bigint();
    tpm.tool(cmd, args);
    times.push(ms(t));
    after?.();
  }
  return median(times);
}

export async function run() {
  if (!existsSync(LIB)) throw new Error(`${LIB} not found: run npm run build first`);
  const { createTpmSigner } = await import(pathToFileURL(LIB).href);
  const dir = mkdtempSync(join(tmpdir(), "raa-bench-tpm-"));
  const tpm = await startSwtpm(dir);
  try {
    tpm.tool("tpm2_dictionarylockout", ["--setup-parameters", "--max-tries=1000", "--recovery-time=0", "--lockout-recovery-time=0", "--clear-lockout"]);
    // A persistent ECC key made with tpm2-tools (same key for both sides of the warm comparison).
    tpm.tool("tpm2_createprimary", ["-C", "o", "-g", "sha256", "-G", "ecc256:aes128cfb", "-a", "restricted|decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda", "-c", "srk.ctx", "-Q"]);
    tpm.tool("tpm2_evictcontrol", ["-C", "o", "-c", "srk.ctx", "0x81000001", "-Q"]);
    tpm.tool("tpm2_flushcontext", ["-t"]);
    tpm.tool("tpm2_create", ["-C", "0x81000001", "-G", "ecc256", "-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign", "-u", "k.pub", "-r", "k.priv", "-Q"]);
    tpm.tool("tpm2_flushcontext", ["-t"]);
    tpm.tool("tpm2_load", ["-C", "0x81000001", "-u", "k.pub", "-r", "k.priv", "-c", "k.ctx", "-Q"]);
    tpm.tool("tpm2_evictcontrol", ["-C", "o", "-c", "k.ctx", "0x81000101", "-Q"]);
    tpm.tool("tpm2_flushcontext", ["-t"]);
    // tpm2-openssl keys under the owner hierarchy (SRK re-created on every use).
    tpm.tool("openssl", ["genpkey", "-provider", "tpm2", "-provider", "default", "-algorithm", "EC", "-pkeyopt", "group:P-256", "-out", "ec.pem"]);
    tpm.tool("openssl", ["genpkey", "-provider", "tpm2", "-provider", "default", "-algorithm", "EC", "-pkeyopt", "group:P-256", "-pkeyopt", "user-auth:bench-pw", "-out", "ec-auth.pem"]);
    const digest = join(dir, "msg.sha256");
    writeFileSync(join(dir, "msg.bin"), MESSAGE);
    writeFileSync(digest, (await import("node:crypto")).createHash("sha256").update(MESSAGE).digest());

    console.log(`TPM: swtpm ${execFileSync("swtpm", ["--version"]).toString().match(/version ([\d.]+)/)?.[1] ?? "?"} over a unix socket`);

    // 1. Loaded key.
    const warm = async (opts, label) => {
      const signer = await createTpmSigner({ ...opts, device: tpm.device });
      try {
        for (let i = 0; i < 10; i++) await signer.sign(MESSAGE);
        const times = [];
        for (let i = 0; i < SIGNATURES; i++) {
          const t = process.hrtime.bigint();
          await signer.sign(MESSAGE);
          times.push(ms(t));
        }
        return { label, value: median(times) };
      } finally {
        await signer.close();
      }
    };
    const handleWarm = await warm({ key: { kind: "handle", handle: 0x81000101 }, noKeyPassword: true }, "sign, loaded persistent ECC P-256 key (handle:)");
    const authWarm = await warm(
      { key: { kind: "tss2-pem", path: "ec-auth.pem", pem: readFileSync(join(dir, "ec-auth.pem"), "utf8") }, keyPassword: { kind: "value", value: "bench-pw" } },
      "sign, loaded ECC P-256 key with password (salted HMAC session + parameter encryption)",
    );
    const tpm2Sign = timeTool(tpm, "tpm2_sign", ["-c", "0x81000101", "-g", "sha256", "-s", "ecdsa", "-f", "plain", "-o", "sig.bin", "msg.bin"], () => tpm.tool("tpm2_flushcontext", ["-t"]));
    line(handleWarm.label, handleWarm.value, "tpm2_sign (one process per signature, same key)", tpm2Sign, SIGNATURES);
    line(authWarm.label, authWarm.value, "tpm2_sign (no password)", tpm2Sign, SIGNATURES);

    // 2. First signature: CreatePrimary + Load + session + Sign (+ flushes), in-process.
    const first = async (opts) => {
      const times = [];
      for (let i = 0; i < OPEN_RUNS; i++) {
        const t = process.hrtime.bigint();
        const signer = await createTpmSigner({ ...opts, device: tpm.device });
        await signer.sign(MESSAGE);
        await signer.close();
        times.push(ms(t));
      }
      return median(times);
    };
    const firstPlain = await first({ key: { kind: "tss2-pem", path: "ec.pem", pem: readFileSync(join(dir, "ec.pem"), "utf8") } });
    const firstAuth = await first({ key: { kind: "tss2-pem", path: "ec-auth.pem", pem: readFileSync(join(dir, "ec-auth.pem"), "utf8") }, keyPassword: { kind: "value", value: "bench-pw" } });
    const pkeyutl = timeTool(tpm, "openssl", ["pkeyutl", "-provider", "tpm2", "-provider", "default", "-sign", "-inkey", "ec.pem", "-in", digest, "-out", "sig2.bin"]);
    line("first signature (open: CreatePrimary + Load, sign, close), ECC P-256 under 0x40000001", firstPlain, "openssl pkeyutl -provider tpm2 -sign (same work, one process)", pkeyutl, OPEN_RUNS);
    line("first signature with a password (adds a salted session)", firstAuth, "openssl pkeyutl -provider tpm2 -sign (no password)", pkeyutl, OPEN_RUNS);
  } finally {
    await tpm.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await run();
}
