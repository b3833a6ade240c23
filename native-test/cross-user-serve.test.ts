/**
 * `serve` and another local account (`r15a-…`, created with useradd and removed afterwards) that took its port
 * first. Any local user can listen on a free port from 1024 up — at boot before serve starts, or while it restarts
 * — and the consumers pointed at that port then get that user's answers (an ECS consumer sends it its token).
 * serve cannot prevent it (SECURITY.md: a port below 1024 can), but it must not hide it: it used to say "another
 * process uses that port: pick another with --port", which moves serve and leaves the consumers with the squatter.
 */
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../src/cli/exit-codes.js";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../test/helpers/pki.js";
import { canCreateUsers, createLocalUser, type LocalUser } from "./helpers/local-user.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";

const { dir, cleanup } = makeTempDir("raa-cross-user-serve-");
let attacker: LocalUser;
let endpoint: LocalEndpoint;
let leaf: IssuedCertificate;

const ENV = { PATH: process.env["PATH"], NODE_EXTRA_CA_CERTS: "", HOME: dir, XDG_RUNTIME_DIR: "/nonexistent" };
const flags = () => [
  "--certificate", leaf.certPath, "--private-key", leaf.keyPath,
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/squat",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:profile/squat",
  "--role-arn", "arn:aws:iam::000000000000:role/Squat",
  "--endpoint", endpoint.url, "--timeout", "5", "--max-attempts", "1",
];

beforeAll(async () => {
  const ca = createCa(join(dir, "ca"), { name: "Squat Test CA" });
  leaf = issueLeaf(ca, join(dir, "leaf"), { name: "squat-device" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  if (canCreateUsers()) attacker = createLocalUser("r15a-mallory", dir);
});

afterAll(async () => {
  attacker?.remove();
  await endpoint?.close();
  cleanup();
});

describe.skipIf(!canCreateUsers())("serve on a port another user took first", () => {
  it("fails with one line that names the other user's uid and says the consumers reach that process (was: 'pick another')", async () => {
    // The squatter takes a port of the kernel's choosing and says which: a port found free here and released could
    // be taken by a parallel file's listen(0) before the squatter (another node process) got it.
    const squatter = attacker.spawn(process.execPath, ["-e", `const s = require("net").createServer().listen(0, "127.0.0.1", () => console.log("READY " + s.address().port))`], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        squatter.once("exit", (code) => reject(new Error(`the squatter exited (${code})`)));
        createInterface({ input: squatter.stdout! }).on("line", (line) => line.startsWith("READY ") && resolve(Number(line.slice(6))));
      });
      const r = await runCli(DIST_CLI, ["serve", ...flags(), "--port", String(port)], ENV, 30_000);
      expect(r.code).toBe(EXIT_CODES.usage);
      const lines = r.stderr.trim().split("\n").filter((l) => !l.includes("warning"));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
      expect(lines[0]).toContain(`a process of uid ${attacker.uid}, not this user, listens there: programs pointed at port ${port} reach it instead`);
    } finally {
      squatter.kill("SIGKILL");
    }
  });

  it("control: a port this user holds gets the plain hint", async () => {
    const own: Server = createServer();
    await new Promise<void>((r) => own.listen(0, "127.0.0.1", r));
    const port = (own.address() as { port: number }).port;
    try {
      const r = await runCli(DIST_CLI, ["serve", ...flags(), "--port", String(port)], ENV, 30_000);
      expect(r.code).toBe(EXIT_CODES.usage);
      expect(r.stderr).toContain("another process uses that port: pick another with --port");
      expect(r.stderr).not.toContain("not this user");
    } finally {
      await new Promise((r) => own.close(r));
    }
  });
});
