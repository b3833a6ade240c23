/**
 * `update` and hostile or unusual credentials files, as real `update --once` processes against the verifying
 * local endpoint:
 *
 * - a target that is not a regular file — a FIFO (reading it blocked forever), a UNIX socket, a device node, a
 *   symlink to a device node (which was replaced by a regular file) — is refused at once with one line and exit 3,
 *   and left exactly as it was; a symlink to a regular file is still written through;
 * - keys are matched case-insensitively, as botocore reads them: `AWS_Access_Key_Id` is updated (rewritten as
 *   `aws_access_key_id = …`), not duplicated (a duplicate makes botocore refuse the whole file) — checked with the
 *   real AWS CLI;
 * - every byte outside the credential lines of the profile written stays as it was: Latin-1 bytes (they became
 *   U+FFFD), CRLF line endings, comments, a last line without a newline — compared byte for byte;
 * - a file shared with a group (the system units' file, `chmod 640` once) stays readable by a consumer of another
 *   uid in that group at each refresh (real accounts, created with useradd and removed afterwards; was 0600 again
 *   after the next write).
 */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, lstatSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../test/helpers/pki.js";
import { DIST_CLI, runCli, type CliRun } from "./helpers/run-cli.js";
import { canCreateUsers, createLocalUser, type LocalUser } from "./helpers/local-user.js";

const ACCOUNT = "111122223333";
const { dir, cleanup } = makeTempDir("raa-update-targets-");
let endpoint: LocalEndpoint;
let leaf: IssuedCertificate;
const servers: Server[] = [];

const flags = () => [
  "--certificate", leaf.certPath, "--private-key", leaf.keyPath,
  "--trust-anchor-arn", `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:trust-anchor/targets`,
  "--profile-arn", `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:profile/targets`,
  "--role-arn", `arn:aws:iam::${ACCOUNT}:role/Targets`,
  "--endpoint", endpoint.url, "--timeout", "5", "--max-attempts", "1",
];

/**
 * `update --once` writing `file` (as `user`, in `groups`, with its key and certificate); a run still going after
 * 15 s counts as code -1 (it hangs).
 */
function updateOnce(file: string, profile = "default", user?: LocalUser, groups: readonly number[] = []): Promise<CliRun> {
  const ids = user ? [`--reuid=${user.uid}`, `--regid=${user.gid}`] : [];
  const as = user ? ["setpriv", ...ids, groups.length ? `--groups=${groups.join(",")}` : "--clear-groups"] : [];
  const own = user ? ["--certificate", join(user.home, "cert.pem"), "--private-key", join(user.home, "key.pem")] : [];
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: "", HOME: user?.home ?? dir };
  return runCli(DIST_CLI, ["update", "--once", "--profile", profile, "--credentials-file", file, ...flags(), ...own], env, 15_000, as);
}

function expectRefused(r: CliRun, what: RegExp): void {
  expect(r.code).toBe(3);
  expect(r.stdout).toBe("");
  expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(what);
}

beforeAll(async () => {
  const ca = createCa(join(dir, "ca"), { name: "Targets Test CA" });
  leaf = issueLeaf(ca, join(dir, "leaf"), { name: "targets-device" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
});
afterAll(async () => {
  for (const s of servers) s.close();
  await endpoint?.close();
  cleanup();
});

describe("update refuses targets that are not regular files, at once and without touching them", () => {
  it("a FIFO (which blocked the read forever)", async () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", ["-m", "600", fifo]);
    // A blocking open() waits for a writer that never comes: the refusal's line at all is the proof (else the test's
    // timeout), not how long it took.
    const r = await updateOnce(fifo);
    expectRefused(r, /fifo is not a regular file \(it is a FIFO\)/);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it("a UNIX socket", async () => {
    const path = join(dir, "socket");
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    expectRefused(await updateOnce(path), /socket is not a regular file \(it is a socket\)/);
    expect(lstatSync(path).isSocket()).toBe(true);
  });

  it("a device node, and a symlink to one (which was replaced by a regular file)", async () => {
    // Our own character device 1,3 (what /dev/null is), so that a failure can only damage the test directory.
    const device = join(dir, "null-device");
    execFileSync("mknod", ["-m", "666", device, "c", "1", "3"]);
    expectRefused(await updateOnce(device), /null-device is not a regular file \(it is a character device\)/);
    expect(lstatSync(device).isCharacterDevice()).toBe(true);

    const link = join(dir, "credentials-link");
    symlinkSync(device, link);
    expectRefused(await updateOnce(link), /is not a regular file \(it is a character device\)/);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(device);
    expect(lstatSync(device).isCharacterDevice()).toBe(true);
    expect(lstatSync(device).rdev).toBe(statSync("/dev/null").rdev);
  });

  it("control: a symlink to a regular file is written through (the link stays)", async () => {
    const real = join(dir, "real-credentials");
    writeFileSync(real, "[keep]\nx = 1\n", { mode: 0o600 });
    const link = join(dir, "link-to-real");
    symlinkSync(real, link);
    const r = await updateOnce(link);
    expect(r.code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, "utf8")).toMatch(/^\[keep\]\nx = 1\n\n\[default\]\naws_access_key_id = ASIA/);
  });
});

describe("update rewrites only the credential lines of its profile", () => {
  it("matches keys case-insensitively (AWS_Access_Key_Id is updated, not duplicated): the AWS CLI reads the file", async () => {
    const file = join(dir, "mixed-case");
    writeFileSync(file, "[default]\nAWS_Access_Key_Id = ASIAOLDOLDOLDOLDOLD\nAws_Secret_Access_Key = old-secret\nAWS_SESSION_TOKEN = old-token\nregion = us-east-1\n", { mode: 0o600 });
    const r = await updateOnce(file);
    expect(r.code).toBe(0);
    const c = endpoint.issued.at(-1)!.credentials;
    expect(readFileSync(file, "utf8")).toBe(
      `[default]\naws_access_key_id = ${c.accessKeyId}\naws_secret_access_key = ${c.secretAccessKey}\naws_session_token = ${c.sessionToken}\nregion = us-east-1\n`,
    );
    // botocore (the AWS CLI) parses the file and signs with the new credentials; a duplicated key made it refuse the file.
    const { stdout } = await promisify(execFile)("/usr/bin/aws", ["sts", "get-caller-identity", "--endpoint-url", endpoint.url, "--output", "json"], {
      env: {
        PATH: process.env["PATH"],
        HOME: dir,
        AWS_SHARED_CREDENTIALS_FILE: file,
        AWS_CONFIG_FILE: join(dir, "no-config"),
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_PAGER: "",
      },
      timeout: 60_000,
    });
    expect(JSON.parse(stdout).Arn).toMatch(/assumed-role\/Targets\//);
  });

  it("reads indentation and headers as botocore does: the AWS CLI still reads the file, and signs with the new credentials", async () => {
    // Before: the indented keys were not seen and a second, unindented set was added; the [gw] with a note after it
    // was not seen and a second [gw] was appended. Either way botocore refused the whole file ("Unable to parse").
    const aws = (file: string, profile: string) =>
      promisify(execFile)("/usr/bin/aws", ["sts", "get-caller-identity", "--profile", profile, "--endpoint-url", endpoint.url, "--output", "json"], {
        env: { PATH: process.env["PATH"], HOME: dir, AWS_SHARED_CREDENTIALS_FILE: file, AWS_CONFIG_FILE: join(dir, "no-config"), AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true", AWS_PAGER: "" },
        timeout: 60_000,
      });
    const file = join(dir, "indented");
    writeFileSync(file, "[gw]\n    region = us-east-1\n    aws_access_key_id = ASIAOLDOLDOLDOLDOLD\n    aws_session_token = old\n      continued\n", { mode: 0o600 });
    expect((await updateOnce(file, "gw")).code).toBe(0);
    expect(readFileSync(file, "utf8").match(/^\s*\[gw\]/gm)).toHaveLength(1);
    expect(JSON.parse((await aws(file, "gw")).stdout).Arn).toMatch(/assumed-role\/Targets\//);
    // [gw] with text after it: botocore's [gw], no section to the JavaScript SDKs. Left as it is, with one line.
    const noted = join(dir, "noted-header");
    const before = "[gw] the gateway's\naws_access_key_id = ASIAOLDOLDOLDOLDOLD\n";
    writeFileSync(noted, before, { mode: 0o600 });
    expectRefused(await updateOnce(noted, "gw"), /line "\[gw\] the gateway's" is section \[gw\] to botocore \(the AWS CLI\) but no section to the AWS SDK for JavaScript/);
    expect(readFileSync(noted, "utf8")).toBe(before);
  });

  it("keeps every other byte: Latin-1 bytes, CRLF, comments, a duplicate key dropped, no final newline", async () => {
    const file = join(dir, "bytes");
    const before = Buffer.from("# caf\xe9 \xa0 comment\r\n[other]\r\naws_access_key_id = AKIAOTHER\r\nnote = na\xefve\r\n\r\n", "latin1");
    const section = Buffer.from("[gw]\r\nAWS_Access_Key_Id = OLD1\r\n; keep me \xe9\r\naws_secret_access_key=OLD2\r\naws_access_key_id = SHADOWED\r\nregion = eu-west-1\r\n", "latin1");
    const after = Buffer.from("[tail]\r\nx = \xff\xfe\r\n# the end, no newline \xe0", "latin1");
    writeFileSync(file, Buffer.concat([before, section, after]), { mode: 0o600 });
    const r = await updateOnce(file, "gw");
    expect(r.code).toBe(0);
    const c = endpoint.issued.at(-1)!.credentials;
    const expected = Buffer.concat([
      before,
      Buffer.from(
        `[gw]\r\naws_access_key_id = ${c.accessKeyId}\r\n; keep me \xe9\r\naws_secret_access_key = ${c.secretAccessKey}\r\nregion = eu-west-1\r\naws_session_token = ${c.sessionToken}\r\n`,
        "latin1",
      ),
      after,
    ]);
    const written = readFileSync(file);
    expect(written.toString("hex")).toBe(expected.toString("hex"));
  });
});

describe.skipIf(!canCreateUsers())("update keeps a file shared with a group readable by a consumer of another uid", () => {
  const users: LocalUser[] = [];
  const group = `w1read-${process.pid}`;
  afterAll(() => {
    for (const user of users) user.remove();
    execFileSync("groupdel", [group], { stdio: "ignore" });
  });

  it("docs/long-running.md's recipe: the consumer in the file's own group reads it with the AWS CLI after each refresh", async () => {
    // As the system units with the documented drop-in: update runs as its own user, also in a group for the file
    // alone (SupplementaryGroups=), into a state directory others may pass through (StateDirectoryMode=0751); the
    // consumer (another uid) is in that group; the operator gives the file that group and mode 640 once.
    execFileSync("groupadd", ["--system", group]);
    const read = Number(execFileSync("getent", ["group", group], { encoding: "utf8" }).split(":")[2]);
    chmodSync(dir, 0o755);
    const [service, consumer, outsider] = ["w1svc", "w1app", "w1out"].map((name) => createLocalUser(name, dir));
    users.push(service!, consumer!, outsider!);
    for (const [from, to] of [[leaf.certPath, "cert.pem"], [leaf.keyPath, "key.pem"]] as const) {
      copyFileSync(from, join(service!.home, to));
      chownSync(join(service!.home, to), service!.uid, service!.gid);
    }
    const state = service!.mkdir(join(dir, "state"), 0o751);
    const file = join(state, "credentials");
    const update = (groups = [read]) => updateOnce(file, "default", service, groups);
    const aws = (user: LocalUser, groups: number[]) =>
      user.run("/usr/bin/aws", ["sts", "get-caller-identity", "--endpoint-url", endpoint.url, "--output", "json"], {
        env: { PATH: process.env["PATH"], HOME: user.home, AWS_SHARED_CREDENTIALS_FILE: file, AWS_CONFIG_FILE: join(user.home, "no-config"), AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true", AWS_PAGER: "" },
        groups,
      });
    const warnings = (r: CliRun) => r.stderr.split("\n").filter((line) => line.includes("warning"));
    const facts = () => [statSync(file).uid, statSync(file).gid, statSync(file).mode & 0o777];

    const first = await update();
    expect([first.code, warnings(first)]).toEqual([0, []]);
    expect(facts()).toEqual([service!.uid, service!.gid, 0o600]); // a new file: 0600
    chownSync(file, -1, read); // the operator, once
    chmodSync(file, 0o640);

    const second = await update();
    expect([second.code, warnings(second)]).toEqual([0, []]);
    expect(facts()).toEqual([service!.uid, read, 0o640]);
    const shared = await aws(consumer!, [read]);
    expect(shared.stderr).toBe("");
    expect(JSON.parse(shared.stdout).Arn).toMatch(/assumed-role\/Targets\//);
    expect(readFileSync(file, "utf8")).toContain(`aws_access_key_id = ${endpoint.issued.at(-1)!.credentials.accessKeyId}\n`);
    // Outside the group: nothing (the same consumer without it, another account, one in the service's own group).
    for (const [user, groups] of [[consumer!, []], [outsider!, []], [outsider!, [service!.gid]]] as const) {
      const refused = await aws(user, [...groups]);
      expect(refused.code).not.toBe(0);
      expect(refused.stdout).toBe("");
    }

    // Made readable by every user (chmod 644): written 640 again, with one line that says so.
    chmodSync(file, 0o644);
    const third = await update();
    expect(third.code).toBe(0);
    expect(warnings(third)).toEqual([`roles-anywhere-agent: warning: credentials file ${file} was readable by other users (mode 644); written 640`]);
    expect(facts()).toEqual([service!.uid, read, 0o640]);
    expect(JSON.parse((await aws(consumer!, [read])).stdout).Arn).toMatch(/assumed-role\/Targets\//);

    // The drop-in forgotten (the service not in the group): the group cannot be kept, so neither is its bit.
    const fourth = await update([]);
    expect(fourth.code).toBe(0);
    expect(warnings(fourth)).toEqual([`roles-anywhere-agent: warning: credentials file ${file} was readable by group ${read}, which this process is not in (mode 640); written 600`]);
    expect(facts()).toEqual([service!.uid, service!.gid, 0o600]);
  });
});
