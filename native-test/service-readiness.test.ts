/**
 * Readiness for systemd (Type=notify): `serve` and `update` send READY=1 as one datagram to $NOTIFY_SOCKET (the
 * native helper's notify(); Node.js has no UNIX datagram sockets) once credentials exist — for `update` once the
 * credentials file holds them, for `serve` once it listens and every role holds credentials — and not before.
 * The service manager's end is a real UNIX datagram socket bound by Python, as systemd binds its own, both as a
 * path and in the abstract namespace (`@name`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { untilLogLine } from "./helpers/log-lines.js";
import { DIST_CLI } from "./helpers/run-cli.js";

const ACCOUNT = "111122223333";
const ARNS = [
  "--trust-anchor-arn", `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:trust-anchor/ta`,
  "--profile-arn", `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:profile/p`,
  "--role-arn", `arn:aws:iam::${ACCOUNT}:role/device`,
];

/** A service manager's notify socket: prints `bound`, then one JSON line per datagram (and whether `check` existed then). */
const RECEIVER = `
import json, os, socket, sys
address, timeout, check = sys.argv[1], float(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\\0" + address[1:] if address.startswith("@") else address)
print("bound", flush=True)
s.settimeout(timeout)
try:
    while True:
        data = s.recv(4096)
        print(json.dumps({"message": data.decode(), "checkExisted": os.path.exists(check) if check else None}), flush=True)
except socket.timeout:
    print(json.dumps({"timeout": True}), flush=True)
`;

interface Datagram { message?: string; checkExisted?: boolean | null; timeout?: boolean }

const { dir, cleanup } = makeTempDir("raa-readiness-");
let endpoint: LocalEndpoint;
let keyFlags: string[];
const children: ChildProcess[] = [];

beforeAll(async () => {
  const ca = createCa(dir, { name: "Readiness CA" });
  const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "readiness-leaf" });
  keyFlags = ["--certificate", leaf.certPath, "--private-key", leaf.keyPath];
  endpoint = await startLocalEndpoint({ trustAnchors: ca.certPath, port: 0 });
});
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});
afterAll(async () => {
  await endpoint?.close();
  cleanup();
});

/** Binds the notify socket and resolves with the first datagram (or a timeout) it receives. */
async function notifySocket(address: string, timeoutSeconds: number, check = ""): Promise<{ first: Promise<Datagram> }> {
  const python = spawn("python3", ["-c", RECEIVER, address, String(timeoutSeconds), check], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(python);
  const lines = createInterface({ input: python.stdout! });
  const iterator = lines[Symbol.asyncIterator]();
  expect((await iterator.next()).value).toBe("bound");
  // Wrapped: an async function returning the bare promise would wait for the datagram itself.
  return { first: iterator.next().then((r) => JSON.parse(r.value as string) as Datagram) };
}

function startCli(args: string[], notify: string): ChildProcess {
  const env = { ...process.env, NOTIFY_SOCKET: notify, NODE_EXTRA_CA_CERTS: "", XDG_RUNTIME_DIR: join(dir, "run"), HOME: dir };
  const child = spawn(process.execPath, [DIST_CLI, ...args], { env, stdio: "ignore" });
  children.push(child);
  return child;
}

describe("readiness notification (sd_notify)", () => {
  it("update: READY=1 once the credentials file holds credentials", async () => {
    const socket = join(dir, "notify-update");
    const credentials = join(dir, "credentials");
    const received = await notifySocket(socket, 30, credentials);
    startCli(["update", "--credentials-file", credentials, ...keyFlags, ...ARNS, "--endpoint", endpoint.url], socket);
    const datagram = await received.first;
    expect(datagram.message, JSON.stringify(datagram)).toBe(`READY=1\nSTATUS=profile [default] written to ${credentials}`);
    expect(datagram.checkExisted).toBe(true);
  });

  it("serve (abstract socket): READY=1 once it listens and the role holds credentials", async () => {
    const received = await notifySocket(`@raa-readiness-${process.pid}`, 30);
    startCli(["serve", "--port", "0", ...keyFlags, ...ARNS, "--endpoint", endpoint.url], `@raa-readiness-${process.pid}`);
    expect((await received.first).message).toBe("READY=1\nSTATUS=serving 1 role(s)");
  });

  it("not ready while there are no credentials (endpoint unreachable): nothing is sent", async () => {
    const socket = join(dir, "notify-unreachable");
    const credentials = join(dir, "credentials-unreachable");
    const received = await notifySocket(socket, 6, credentials);
    const child = startCli(["update", "--credentials-file", credentials, ...keyFlags, ...ARNS, "--endpoint", "http://127.0.0.1:9", "--timeout", "2"], socket);
    expect(await received.first).toEqual({ timeout: true });
    expect(child.exitCode).toBeNull(); // still running, retrying
    expect(existsSync(credentials)).toBe(false);
  });

  it("outside systemd (no NOTIFY_SOCKET) nothing is said about readiness", async () => {
    const credentials = join(dir, "credentials-plain");
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: "", XDG_RUNTIME_DIR: join(dir, "run"), HOME: dir };
    delete env["NOTIFY_SOCKET"];
    const child = spawn(process.execPath, [DIST_CLI, "update", "--credentials-file", credentials, ...keyFlags, ...ARNS, "--endpoint", endpoint.url], { env, stdio: ["ignore", "ignore", "pipe"] });
    children.push(child);
    const lines = await untilLogLine(child, /^wrote profile/);
    expect(lines.join("\n")).not.toMatch(/systemd|ready/i);
  });
});
