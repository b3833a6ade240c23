/**
 * Pieces the local-trust tests share: a fake agent another user runs, copies of the CLI that other users can run
 * (with or without its native helper), and a victim's credential-process with a clean environment.
 */
import { cpSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { LocalUser } from "./local-user.js";

/** What the fake agent answers: credentials the victim must never print. */
export const FAKE_ACCESS_KEY_ID = "ASIAFAKEATTACKER0001";

export interface FakeAgent {
  /** Request lines (method and URL) it received: the profile a victim asked for would show here. */
  readonly requests: readonly string[];
  /** Connections it accepted (a victim that checks peer credentials connects, then sends nothing). */
  readonly connections: number;
  stop(): void;
}

/** An HTTP server on a UNIX socket, run by `user`, that hands out the attacker's credentials (socket 0666). */
export async function startFakeAgent(user: LocalUser, socketPath: string): Promise<FakeAgent> {
  const body = JSON.stringify({ Version: 1, AccessKeyId: FAKE_ACCESS_KEY_ID, SecretAccessKey: "attacker-secret", SessionToken: "attacker-token", Expiration: "2099-01-01T00:00:00Z" });
  const script = [
    `const http = require("http"), fs = require("fs");`,
    `const s = http.createServer((q, r) => { console.log("REQUEST " + q.method + " " + q.url); r.setHeader("content-type", "application/json"); r.end(${JSON.stringify(body)}); });`,
    `s.on("connection", () => console.log("CONNECTION"));`,
    `s.listen(${JSON.stringify(socketPath)}, () => { fs.chmodSync(${JSON.stringify(socketPath)}, 0o666); console.log("READY"); });`,
  ].join("\n");
  const child = user.spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const requests: string[] = [];
  let connections = 0;
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`fake agent exited (${code})`)));
    setTimeout(() => reject(new Error(`the fake agent did not say READY within 60 s`)), 60_000).unref();
    lines.on("line", (line) => {
      if (line === "READY") resolve();
      else if (line === "CONNECTION") connections++;
      else requests.push(line);
    });
  });
  return {
    requests,
    get connections() {
      return connections;
    },
    stop: () => child.kill("SIGKILL"),
  };
}

/**
 * A copy of dist/ that every local user can run, next to a link to node_modules (which the file-key commands do
 * not load): the checkout itself may sit where other users cannot reach it (root's 0700 home). With
 * `withoutNativeHelper`, as an installation without the native helper would be (a platform it was not built for).
 * Returns the path of its cli.js.
 */
export function distCopy(repo: string, into: string, options: { withoutNativeHelper?: boolean } = {}): string {
  mkdirSync(into, { recursive: true });
  const native = join(repo, "dist", "native");
  cpSync(join(repo, "dist"), join(into, "dist"), { recursive: true, filter: (src) => !options.withoutNativeHelper || !src.startsWith(native) });
  if (!existsSync(join(into, "node_modules"))) symlinkSync(join(repo, "node_modules"), join(into, "node_modules"));
  writeFileSync(join(into, "package.json"), JSON.stringify({ name: "roles-anywhere-agent-copy", type: "module" }));
  if (options.withoutNativeHelper) rmSync(join(into, "dist", "native"), { recursive: true, force: true });
  return join(into, "dist", "cli.js");
}
