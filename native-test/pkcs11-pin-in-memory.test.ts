/**
 * The user PIN in the memory of a long-running command. `agent` (dist/cli.js, real SoftHSM, the PIN from a pin-source
 * file) logs in, signs, serves credentials; then root reads the agent's memory (/proc/PID/maps + /proc/PID/mem, as a
 * core file or crash tool would have it) and counts the PIN's bytes, as UTF-8 and as UTF-16LE (V8 may hold a string
 * either way). Before round 40 pin.ts handed pkcs11js `bytes.toString("utf8")`: a V8 string that cannot be wiped, and a
 * native copy of it pkcs11js frees unwiped — found in every run. Now raa_native's pkcs11Login hands C_Login a pointer
 * into the Secret's own bytes, wiped right after: nothing of ours keeps it. Without the helper the string path is taken
 * still, and the PIN found: what SECURITY.md's row for an installation without it says.
 *
 * What is out of our hands and not counted: the pin-source file's bytes in the kernel's page cache (not this process's
 * memory), and SoftHSM itself, which takes the PIN into a ByteString of its SecureAllocator (wiped when freed) and keeps
 * only a key derived from it — the counts below show it leaves no copy either, so the oracle counts the whole process.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { distCopy } from "./helpers/local-trust.js";
import { untilLogLine } from "./helpers/log-lines.js";
import { DIST_CLI } from "./helpers/run-cli.js";
import { createSoftHsmFixture, SOFTHSM_MODULE, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";
import { occurrencesInMemory, textForms } from "./helpers/process-memory.js";

const ARNS = {
  "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/pin-memory",
  "profile-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:profile/pin-memory",
  "role-arn": "arn:aws:iam::000000000000:role/pin-memory",
};
// Distinctive: 16 random hex digits, found by chance in a few hundred MiB about once in 2^40 tries.
const PIN = randomBytes(8).toString("hex");
const RUNS = Number(process.env.RAA_PIN_MEMORY_RUNS ?? 5);

let hsm: SoftHsmFixture;
let local: LocalEndpoint;
let config: string;
const agents: ChildProcess[] = [];

beforeAll(async () => {
  hsm = createSoftHsmFixture("raa-pin-memory-");
  const env = { ...process.env, SOFTHSM2_CONF: hsm.conf };
  execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "--token-label", hsm.token, "--login", "--pin", hsm.pin, "--change-pin", "--new-pin", PIN], { env, stdio: "ignore" });
  local = await startLocalEndpoint({ trustAnchors: [hsm.file("ca.pem")], port: 0, region: "us-east-1" });
  config = join(hsm.dir, "config.json");
  const profile = {
    certificate: hsm.file("ec-key.pem"),
    "private-key": `pkcs11:token=${hsm.token};object=ec-key;type=private?module-path=${SOFTHSM_MODULE}`,
    "pkcs11-pin": `file:${hsm.pinFile(PIN)}`,
    ...ARNS,
    endpoint: local.url,
  };
  writeFileSync(config, JSON.stringify({ profiles: { P: profile } }), { mode: 0o600 });
}, 180_000);

afterAll(async () => {
  for (const agent of agents) agent.kill("SIGKILL");
  await local?.close();
  hsm?.cleanup();
});

/** Occurrences of `text` in `pid`'s readable memory, as [UTF-8, UTF-16LE]. Root reads any process's memory. */
function copiesOf(pid: number, text: string): [number, number] {
  const [utf8, utf16] = occurrencesInMemory(pid, textForms(text));
  return [utf8!, utf16!];
}

/**
 * Starts `cli agent`, asks it for credentials 5 times (the first signs, after C_Login with the PIN), and counts in its
 * memory the PIN and, as a control that the reader sees the heap, the key's URI the agent holds as text.
 */
async function pinCopiesInAgent(cli: string): Promise<{ pin: [number, number]; control: number; log: string[] }> {
  const socket = join(hsm.dir, `agent-${process.hrtime.bigint()}.sock`);
  const agent = spawn(process.execPath, [cli, "agent", "--config", config, "--socket", socket], {
    env: { ...process.env, SOFTHSM2_CONF: hsm.conf, NODE_EXTRA_CA_CERTS: "" }, stdio: ["ignore", "ignore", "pipe"],
  });
  agents.push(agent);
  try {
    const log = await untilLogLine(agent, /agent listening on/);
    const before = local.issued.length;
    for (let i = 0; i < 5; i++) {
      // Not execFileSync: the endpoint the agent asks runs in this process.
      const { stdout } = await promisify(execFile)("curl", ["-sS", "--unix-socket", socket, "http://agent/v1/credentials/P"], { encoding: "utf8" });
      expect(JSON.parse(stdout)).toMatchObject({ Version: 1 });
    }
    expect(local.issued.length).toBeGreaterThan(before); // it signed: it logged in with the PIN
    return { pin: copiesOf(agent.pid!, PIN), control: copiesOf(agent.pid!, `token=${hsm.token};object=ec-key`)[0], log };
  } finally {
    const exited = new Promise((r) => agent.once("exit", r));
    agent.kill("SIGTERM");
    await exited;
  }
}

describe("agent logged in to a token with a PIN from a pin-source file", () => {
  it.each(Array.from({ length: RUNS }, (_, i) => [i + 1]))("run %i: after login, a signature and credentials asked for 5 times, its memory holds no copy of the PIN (before: 1 in each run)", async () => {
    const { pin, control } = await pinCopiesInAgent(DIST_CLI);
    expect(control).toBeGreaterThan(0);
    expect(pin).toEqual([0, 0]);
  }, 120_000);

  it("without the native helper (pkcs11js's C_Login, a string) the PIN stays in its memory, as SECURITY.md says", async () => {
    const cli = distCopy(resolve("."), join(hsm.dir, "without-native"), { withoutNativeHelper: true });
    const { pin, log } = await pinCopiesInAgent(cli);
    expect(log.join("\n")).toMatch(/the process stays dumpable/);
    expect(pin[0] + pin[1]).toBeGreaterThan(0);
  }, 120_000);
});

