/**
 * Who on this host can take `serve`'s credentials. A second local user (created with useradd, removed after the
 * file) plays the attacker with curl:
 *
 * - the IMDS endpoint has no notion of a consumer: any local user gets every served role. That is IMDS's nature
 *   (as on EC2), so it is said where the flags are (help, start-up line, docs) — and checked here, so that
 *   sentence stays true;
 * - `--imds --ecs` used to start silently: the ECS consumer tokens then protect nothing, since the same roles
 *   are one IMDS request away. It is now refused unless `--allow-open-imds` says the operator means it;
 * - `--ecs` alone is the mode for token-holding consumers only: the other user gets no IMDS path, 401 without a
 *   token, 403 with a guessed one, and cannot read the token files.
 */
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../test/helpers/pki.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";
import { startServe, type ServeProcess } from "./helpers/serve-process.js";

const ROLE = "LocalUsersRole";
const USER = `raa13b-${randomBytes(3).toString("hex")}`;
const { dir, cleanup } = makeTempDir("raa-serve-users-");
let endpoint: LocalEndpoint;
let leaf: IssuedCertificate;
let userCreated = false;
let uid = "";
const running: ServeProcess[] = [];

const ENV = { ...process.env, NODE_EXTRA_CA_CERTS: "", XDG_RUNTIME_DIR: "/nonexistent", HOME: dir };
const flags = () => [
  "--certificate", leaf.certPath, "--private-key", leaf.keyPath,
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/users",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:profile/users",
  "--role-arn", `arn:aws:iam::000000000000:role/${ROLE}`,
  "--endpoint", endpoint.url, "--timeout", "5", "--max-attempts", "1",
];

async function serve(args: string[]): Promise<ServeProcess> {
  const s = await startServe([...flags(), ...args], ENV);
  running.push(s);
  return s;
}

/** A command run as the other local user: exit code and output. */
async function asOtherUser(cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)("setpriv", [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", ...cmd], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === "number" ? err.code : -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

/** curl as the other user: HTTP status and body. */
async function curlAsOther(args: string[]): Promise<{ status: number; body: string }> {
  const r = await asOtherUser(["curl", "-s", "--max-time", "5", "-w", "\n%{http_code}", ...args]);
  const cut = r.stdout.lastIndexOf("\n");
  return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut) };
}

/** The other user's IMDSv2 round trip: PUT a token, then read the role's credentials. */
async function imdsAsOther(port: number): Promise<{ tokenStatus: number; credentialsStatus: number; body: string }> {
  const token = await curlAsOther(["-X", "PUT", "-H", "x-aws-ec2-metadata-token-ttl-seconds: 60", `http://127.0.0.1:${port}/latest/api/token`]);
  const c = await curlAsOther(["-H", `x-aws-ec2-metadata-token: ${token.body}`, `http://127.0.0.1:${port}/latest/meta-data/iam/security-credentials/${ROLE}`]);
  return { tokenStatus: token.status, credentialsStatus: c.status, body: c.body };
}

beforeAll(async () => {
  const ca = createCa(join(dir, "ca"), { name: "Serve Users Test CA" });
  leaf = issueLeaf(ca, join(dir, "leaf"), { name: "serve-users-device" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  execFileSync("useradd", ["--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", USER]);
  userCreated = true;
  uid = execFileSync("id", ["-u", USER], { encoding: "utf8" }).trim();
});
afterAll(async () => {
  for (const s of running) s.stop();
  await endpoint?.close();
  if (userCreated) execFileSync("userdel", [USER]);
  cleanup();
});

describe("serve and another local user", () => {
  it("IMDS (the default) answers any local user, and says so at start-up", async () => {
    const s = await serve([]);
    const r = await imdsAsOther(s.port);
    expect(r).toMatchObject({ tokenStatus: 200, credentialsStatus: 200 });
    expect(JSON.parse(r.body).AccessKeyId).toMatch(/^ASIA/);
    // The start-up lines come one after the other: wait (bounded) for the note after the port line.
    for (let i = 0; i < 50 && !/IMDS endpoint answers every local user/.test(s.log.join("\n")); i++) await new Promise((r) => setTimeout(r, 100));
    expect(s.log.join("\n")).toMatch(/IMDS endpoint answers every local user/);
  });

  it("refuses --imds with --ecs (the consumer tokens would protect nothing) unless --allow-open-imds", async () => {
    const issuedBefore = endpoint.issued.length;
    const r = await runCli(DIST_CLI, ["serve", ...flags(), "--port", "0", "--imds", "--ecs", "--ecs-env-dir", join(dir, "refused-env")], ENV, 30_000);
    expect(r.code).toBe(2);
    expect(endpoint.issued.length).toBe(issuedBefore); // refused before any signer was opened or CreateSession made
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/--imds with --ecs .*every local user.*--allow-open-imds/);

    // Asked for explicitly, both are served, and the other user indeed reads the role through IMDS.
    const s = await serve(["--imds", "--ecs", "--allow-open-imds", "--ecs-env-dir", join(dir, "open-env")]);
    expect(await imdsAsOther(s.port)).toMatchObject({ tokenStatus: 200, credentialsStatus: 200 });
  });

  it("--ecs alone serves token holders only: the other user gets nothing", async () => {
    const envDir = join(dir, "ecs-env");
    const s = await serve(["--ecs", "--ecs-env-dir", envDir]);
    const url = `http://127.0.0.1:${s.port}`;
    expect((await curlAsOther(["-X", "PUT", "-H", "x-aws-ec2-metadata-token-ttl-seconds: 60", `${url}/latest/api/token`])).status).toBe(404);
    expect((await curlAsOther([`${url}/latest/meta-data/iam/security-credentials/${ROLE}`])).status).toBe(404);
    expect((await curlAsOther([`${url}/v1/credentials`])).status).toBe(401);
    expect((await curlAsOther(["-H", `authorization: ${randomBytes(32).toString("base64url")}`, `${url}/v1/credentials`])).status).toBe(403);
    const read = await asOtherUser(["cat", join(envDir, `${ROLE}.token`)]);
    expect(read.code).not.toBe(0);
    expect(read.stderr).toMatch(/Permission denied/);

    // Control: the consumer holding the token gets the role's credentials.
    const token = readFileSync(join(envDir, `${ROLE}.token`), "utf8").trim();
    const owner = await promisify(execFile)("curl", ["-s", "-H", `authorization: ${token}`, `${url}/v1/credentials`]);
    expect(JSON.parse(owner.stdout).AccessKeyId).toMatch(/^ASIA/);
  });
});
