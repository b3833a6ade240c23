import { spawnSync } from "node:child_process";
import { EventEmitter } from "node:events";
import { join, resolve } from "node:path";
import type { ReadStream } from "node:tty";
import { build } from "esbuild";
import { afterAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { promptOnTerminal, readLine } from "../../src/secrets/terminal-prompt.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../helpers/pki.js";
import { ARNS } from "../local-endpoint/support.js";
import { CLOSE_ON_SIGUSR1, closeWhilePrompting } from "../helpers/close-while-prompting.js";

const tmp = makeTempDir("raa-prompt-");
afterAll(() => tmp.cleanup());

/** `contents` (a script importing ./src by path) bundled into one ES module in the temp directory, for a child. */
async function bundleScript(name: string, contents: string): Promise<string> {
  const outfile = join(tmp.dir, name);
  const stdin = { contents, resolveDir: resolve("."), loader: "ts" as const };
  await build({ stdin, outfile, bundle: true, format: "esm", platform: "node", target: "node20", logLevel: "silent" });
  return outfile;
}

/** What readLine uses of a terminal stream: data and end events, pause and resume. */
class FakeTerminal extends EventEmitter {
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
}

function typed(chunks: Buffer[]): { line: Promise<Buffer>; chunks: Buffer[] } {
  const terminal = new FakeTerminal();
  const line = readLine(terminal as unknown as ReadStream);
  for (const chunk of chunks) terminal.emit("data", chunk);
  return { line, chunks };
}

describe("readLine (the terminal prompt's reader)", () => {
  it("wipes the chunk that holds the end of the line (the usual case: secret and newline arrive together)", async () => {
    const { line, chunks } = typed([Buffer.from("s3cret\r")]);
    expect((await line).toString()).toBe("s3cret");
    expect(chunks[0]!.every((byte) => byte === 0)).toBe(true);
  });

  it("wipes every chunk of a secret typed in pieces, backspaces applied", async () => {
    const { line, chunks } = typed([Buffer.from("pa"), Buffer.from("x\x7fss"), Buffer.from("\n")]);
    expect((await line).toString()).toBe("pass");
    for (const chunk of chunks) expect(chunk.every((byte) => byte === 0)).toBe(true);
  });

  it("wipes what was typed before Ctrl-C and rejects", async () => {
    const { line, chunks } = typed([Buffer.from("half\x03")]);
    await expect(line).rejects.toThrow("prompt interrupted");
    expect(chunks[0]!.every((byte) => byte === 0)).toBe(true);
  });

  // Raw mode turns off the terminal's line editing: before, each of these keys went to the token as a byte of the PIN
  // (a wrong PIN: a strike on its counter), and Ctrl-D on an empty prompt waited for ever.
  it("Ctrl-U and Ctrl-W clear what was typed, as the terminal's own line editing does", async () => {
    for (const clear of ["\x15", "\x17"]) {
      const { line, chunks } = typed([Buffer.from(`99${clear}1234\r`)]);
      expect((await line).toString()).toBe("1234");
      expect(chunks[0]!.every((byte) => byte === 0)).toBe(true);
    }
  });

  it("backspace takes a whole UTF-8 character, not its last byte", async () => {
    expect((await typed([Buffer.from("Päß\x7f\x7fss\r")]).line).toString()).toBe("Pss");
  });

  it("Ctrl-D on an empty line ends the prompt; after something typed it does nothing", async () => {
    await expect(typed([Buffer.from("\x04")]).line).rejects.toThrow("the prompt was ended (Ctrl-D) with nothing typed");
    expect((await typed([Buffer.from("12\x0434\r")]).line).toString()).toBe("1234");
  });

  it("an arrow, function or control key in the line: refused, not sent; Ctrl-U starts over", async () => {
    for (const key of ["\x1b[A", "\x1bOP", "\x01", "\x1b"]) {
      const { line, chunks } = typed([Buffer.from(`12${key}34\r`)]);
      await expect(line).rejects.toMatchObject({
        message: "what was typed holds a special key (an arrow, a function or a control key); it was not used",
        hint: "run again and type it plainly; Ctrl-U clears what was typed",
      });
      expect(chunks[0]!.every((byte) => byte === 0)).toBe(true);
    }
    expect((await typed([Buffer.from("1\x1b[A\x151234\r")]).line).toString()).toBe("1234");
    expect((await typed([Buffer.from("a\tb\r")]).line).toString()).toBe("a\tb");
  });

  it("an abort (the library's close()) rejects with its reason; what is typed afterwards is not read", async () => {
    const terminal = new FakeTerminal();
    const closing = new AbortController();
    const line = readLine(terminal as unknown as ReadStream, closing.signal);
    terminal.emit("data", Buffer.from("12"));
    const reason = new Error("closed");
    closing.abort(reason);
    await expect(line).rejects.toBe(reason);
    expect(terminal.listenerCount("data")).toBe(0);
    await expect(readLine(terminal as unknown as ReadStream, closing.signal)).rejects.toBe(reason); // already closed
  });

  it("closed before the prompt starts (close() during its import): its reason, no terminal opened, nothing shown", async () => {
    // Before: /dev/tty opened and the prompt shown, then taken back; here (no terminal) a PASSWORD_REQUIRED instead.
    const reason = new Error("closed");
    await expect(promptOnTerminal("PIN: ", "the PIN", AbortSignal.abort(reason))).rejects.toBe(reason);
  });

  it("a terminal that errors (EIO) while read: rejects, as when it closes", async () => {
    const terminal = new FakeTerminal();
    const line = readLine(terminal as unknown as ReadStream);
    terminal.emit("error", Object.assign(new Error("read EIO"), { code: "EIO" }));
    await expect(line).rejects.toThrow("terminal closed while reading the secret");
  });
});

describe("promptOnTerminal on a terminal that hangs up during the prompt", () => {
  it("one typed error (PASSWORD_REQUIRED), and no unhandled 'error' event of the tty streams", async () => {
    // Before: "Error: setRawMode EIO" (not an AgentError: an agent logged it raw), or, with the line break written
    // after the prompt, the process ended on the tty stream's unhandled 'error' event (EIO) with a stack. (Whatever
    // we do, Node 20 then aborts at exit: node::ResetStdio asserts when it cannot restore a hung-up terminal.)
    const entry = await bundleScript("prompt.mjs", `import { promptOnTerminal } from "./src/secrets/terminal-prompt.ts";
          process.on("SIGHUP", () => {}); // as the daemons, which prompt at start-up and take SIGHUP as a reload
          promptOnTerminal("PIN: ", "the PIN").then(() => process.exit(0), (e) => {
            process.stderr.write(\`\${e.name} \${e.code} \${e.message}\\n\`);
            setTimeout(() => process.exit(3), 200); // time for a late 'error' event to end the process first
          });`);
    // The child gets a pty as its controlling terminal; once the prompt shows, the other side closes (a hang-up).
    const parent = [
      "import os, pty, subprocess, sys, time, select, fcntl, termios",
      "master, slave = pty.openpty()",
      "env = {k: v for k, v in os.environ.items() if k != 'CI'}",
      "p = subprocess.Popen(sys.argv[1:], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,",
      "  start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))",
      "os.close(slave)",
      "seen = b''",
      "deadline = time.time() + 20",
      "while b'PIN: ' not in seen and time.time() < deadline:",
      "  if select.select([master], [], [], 1)[0]: seen += os.read(master, 100)",
      "os.close(master)",
      "out, err = p.communicate(timeout=20)",
      "print(repr(seen.decode()), err.decode(), end='')",
    ].join("\n");
    const r = spawnSync("python3", ["-c", parent, process.execPath, entry], { encoding: "utf8", timeout: 60_000 });
    expect(r.stdout.split("\n")[0]).toBe("'PIN: ' InputError PASSWORD_REQUIRED terminal closed while reading the secret");
    expect(r.stdout).not.toMatch(/Unhandled 'error' event|\n\s+at /);
  }, 60_000);
});

describe("promptOnTerminal's prompt text", () => {
  it("shows a token label's terminal escapes as text, never sends them to the terminal", async () => {
    // The user PIN prompt names the token by the label its module reports. Before: written as it was, so a token
    // labelled with OSC 52 set the clipboard of terminals that honour it (here to `rm -rf ~` and a newline).
    const label = "\u001b]52;c;cm0gLXJmIH4K\u0007";
    const entry = await bundleScript("prompt-label.mjs", `import { promptOnTerminal } from "./src/secrets/terminal-prompt.ts";
          promptOnTerminal(${JSON.stringify(`User PIN for token "${label}" (serial 1): `)}, "the PIN").then(() => process.exit(0), () => process.exit(3));`);
    const parent = [
      "import os, pty, subprocess, sys, time, select, fcntl, termios",
      "master, slave = pty.openpty()",
      "env = {k: v for k, v in os.environ.items() if k != 'CI'}",
      "p = subprocess.Popen(sys.argv[1:], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,",
      "  start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))",
      "seen, deadline = b'', time.time() + 20",
      "while b': ' not in seen and time.time() < deadline:",
      "  if select.select([master], [], [], 1)[0]: seen += os.read(master, 100)",
      "os.write(master, b'1234\\r')",
      "p.communicate(timeout=20)",
      "print(repr(seen.decode()), end='')",
    ].join("\n");
    const r = spawnSync("python3", ["-c", parent, process.execPath, entry], { encoding: "utf8", timeout: 60_000 });
    expect(r.stdout).toBe(String.raw`'User PIN for token "\\u001b]52;c;cm0gLXJmIH4K\\u0007" (serial 1): '`);
  }, 60_000);
});

describe("promptOnTerminal stopped and continued (kill -TSTP, then fg)", () => {
  it("turns echo off again: the shell's modes, set while it was stopped, do not show the PIN", async () => {
    // Before: after fg the terminal had the shell's modes (echo, line editing), the prompt took them for raw
    // mode, and the PIN typed was shown on the screen.
    const entry = await bundleScript("prompt-stop.mjs", `import { promptOnTerminal } from "./src/secrets/terminal-prompt.ts";
          promptOnTerminal("PIN: ", "the PIN").then((s) => {
            s.use((b) => process.stderr.write(\`got \${b.length}\\n\`));
            process.exit(0);
          }, (e) => (process.stderr.write(\`\${e.code}\\n\`), process.exit(3)));`);
    // A shell stops the job, restores its own modes (echo on, canonical), and continues it at fg.
    const parent = [
      "import os, pty, subprocess, sys, time, select, fcntl, termios, signal",
      "master, slave = pty.openpty()",
      "shell = termios.tcgetattr(slave)",
      "env = {k: v for k, v in os.environ.items() if k != 'CI'}",
      "p = subprocess.Popen(sys.argv[1:], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,",
      "  start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))",
      "def read(until, t):",
      "  seen, deadline = b'', time.time() + t",
      "  while until not in seen and time.time() < deadline:",
      "    if select.select([master], [], [], 0.1)[0]: seen += os.read(master, 100)",
      "  return seen",
      // Conditions, not pauses: on a loaded machine the child may set raw mode, stop or run its SIGCONT handler late.
      "def wait(done, t):",
      "  deadline = time.time() + t",
      "  while not done() and time.time() < deadline: time.sleep(0.01)",
      "raw = lambda: not termios.tcgetattr(slave)[3] & termios.ECHO",
      "stopped = lambda: open(f'/proc/{p.pid}/stat').read().rsplit(')', 1)[1].split()[0] == 'T'",
      "read(b'PIN: ', 20)",
      "wait(raw, 20)",
      "os.kill(p.pid, signal.SIGSTOP)",
      "wait(stopped, 20)",
      "termios.tcsetattr(slave, termios.TCSANOW, shell)",
      "os.kill(p.pid, signal.SIGCONT)",
      "wait(raw, 10) # before the fix, echo stays on: the wait runs out and the PIN typed shows",
      "os.write(master, b'secret12')",
      "echoed = read(b'secret12', 1)",
      "os.write(master, b'\\r')",
      "out, err = p.communicate(timeout=20)",
      "print(repr(echoed.decode()), err.decode(), end='')",
    ].join("\n");
    const r = spawnSync("python3", ["-c", parent, process.execPath, entry], { encoding: "utf8", timeout: 60_000 });
    expect(r.stdout).toBe("'' got 8\n");
  }, 60_000);
});

describe("promptOnTerminal when the library's close() comes during the prompt", () => {
  // A prompt source answered before the key opens, and a password the key file turns out to need (a host that allows
  // prompting: createCredentialSource, the agent), asked while it opens.
  const leaf = issueLeaf(createCa(join(tmp.dir, "ca"), { name: "Prompt CA" }), join(tmp.dir, "leaf"), { name: "prompted" });
  const key = join(tmp.dir, "encrypted.key");
  openssl(["pkcs8", "-topk8", "-in", leaf.keyPath, "-out", key, "-v2", "aes-256-cbc", "-passout", "pass:k3y-pw"]);
  const options = { certificate: leaf.certPath, privateKey: key, ...ARNS, endpoint: "https://127.0.0.1:9", env: {} };
  const hosts = {
    "fromRolesAnywhere, keyPassword: prompt": `import { fromRolesAnywhere } from "./src/sdk/index.ts";
          const keyPassword = { kind: "prompt", prompt: "Key password: " };
          const provider = fromRolesAnywhere({ ...${JSON.stringify(options)}, keyPassword });`,
    "createCredentialSource, no key password given": `import { createCredentialSource } from "./src/index.ts";
          import { credentialSettingsFromOptions } from "./src/sdk/provider-options.ts";
          const settings = credentialSettingsFromOptions(${JSON.stringify(options)});
          const signer = { ...settings.signer, prompt: true };
          const source = createCredentialSource({ name: "${ARNS.roleArn}", settings: { ...settings, signer } });
          const provider = Object.assign(() => source.get(), { close: () => source.close() });`,
  };
  const outcome = "close() resolves, the call rejects as closed, echo is back on, what is typed later is not read";
  it.each(Object.entries(hosts))(`%s: ${outcome}`, async (name, host) => {
    // Before: close() waited for the prompt's line, that is until someone typed one (or for ever).
    const entry = await bundleScript(`prompt-close-${name.split(",")[0]}.mjs`, `${host}${CLOSE_ON_SIGUSR1}`);
    // The provider's own word, as a later call gets (before round 40, the source's AGENT_UNAVAILABLE "ask again").
    const closed = name.startsWith("fromRolesAnywhere")
      ? "UsageError USAGE this fromRolesAnywhere credential provider has been closed"
      : `AgentError AGENT_UNAVAILABLE ${ARNS.roleArn} was closed (reloaded or removed): ask again`;
    expect(closeWhilePrompting(entry, "password: ")).toBe(`'closed\\n${closed}\\n' echo 'typed-later\\n'\n`);
  }, 120_000);
});

/**
 * Writes `pending` into a pty before `node entry` starts on it (type-ahead: the user's next shell command, typed while
 * this one starts), then types `line` and Enter as soon as `prompt` shows. Returns the child's stderr, then stdout.
 */
function typedAhead(entry: string, pending: string, prompt: string, line: string, args: string[] = []): string {
  const parent = [
    "import os, pty, subprocess, sys, time, select, fcntl, termios",
    "master, slave = pty.openpty()",
    "os.write(master, sys.argv[1].encode())",
    "env = {k: v for k, v in os.environ.items() if k != 'CI'}",
    "p = subprocess.Popen(sys.argv[4:], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,",
    "  start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))",
    "seen, deadline = b'', time.time() + 60",
    "while sys.argv[2].encode() not in seen and time.time() < deadline:",
    "  if select.select([master], [], [], 0.1)[0]: seen += os.read(master, 200)",
    "os.write(master, sys.argv[3].encode() + b'\\r') # no wait for echo off: nothing typed once it shows is lost",
    "out, err = p.communicate(timeout=60)",
    "print(err.decode() + out.decode(), end='')",
  ].join("\n");
  const argv = ["-c", parent, pending, prompt, line, process.execPath, entry, ...args];
  return spawnSync("python3", argv, { encoding: "utf8", timeout: 150_000 }).stdout;
}

describe("promptOnTerminal with input typed before the prompt showed (type-ahead)", () => {
  // Before: the queued bytes were read as (the start of) the secret: a wrong PIN sent to the token, one of its few
  // tries gone, with nobody having answered the prompt. getpass() and sudo discard such input first; so does this.
  it.each([
    ["a whole line", "ls -l\r"],
    ["a line not ended (no Enter)", "ls -l"],
  ])("%s is discarded; the line typed once the prompt shows is the secret", async (_, pending) => {
    const entry = await bundleScript("prompt-ahead.mjs", `import { promptOnTerminal } from "./src/secrets/terminal-prompt.ts";
          promptOnTerminal("PIN: ", "the PIN").then((s) => {
            s.use((b) => process.stderr.write(\`got \${JSON.stringify(b.toString())}\\n\`));
            process.exit(0);
          }, (e) => (process.stderr.write(\`\${e.code} \${e.message}\\n\`), process.exit(3)));`);
    expect(typedAhead(entry, pending, "PIN: ", "secret12")).toBe('got "secret12"\n');
  }, 150_000);

  it("sign-string with an encrypted key and no password given: the password typed at the prompt opens it", async () => {
    const ca = createCa(join(tmp.dir, "ahead-ca"), { name: "Ahead CA" });
    const leaf = issueLeaf(ca, join(tmp.dir, "ahead"), { name: "ahead" });
    const key = join(tmp.dir, "ahead-encrypted.key");
    openssl(["pkcs8", "-topk8", "-in", leaf.keyPath, "-out", key, "-v2", "aes-256-cbc", "-passout", "pass:k3y-pw"]);
    const entry = await bundleScript("sign-string.mjs", `import { main } from "./src/cli/main.ts";
          const io = { stdout: process.stdout, stderr: process.stderr, env: process.env };
          const exit = (code) => process.stderr.write(\`exit \${code}\\n\`, () => process.exit(code));
          main(process.argv.slice(2), io).then(exit);`);
    const args = ["sign-string", "--certificate", leaf.certPath, "--private-key", key, "--format", "text"];
    const said = typedAhead(entry, "ls -l\r", "password: ", "k3y-pw", args);
    expect(said).toMatch(/^exit 0\n[0-9a-f]{64,}$/);
  }, 150_000);
});

// CI systems often give a job a pseudo-terminal on which no one answers: a prompt there waits until the job times out.
describe("promptOnTerminal under CI=true", () => {
  it("refuses at once, even with a terminal on stdin", async () => {
    vi.stubEnv("CI", "true");
    const isTTY = Object.getOwnPropertyDescriptor(process.stdin, "isTTY");
    Object.defineProperty(process.stdin, "isTTY", { value: true, configurable: true });
    onTestFinished(() => {
      vi.unstubAllEnvs();
      if (isTTY) Object.defineProperty(process.stdin, "isTTY", isTTY);
      else delete (process.stdin as { isTTY?: boolean }).isTTY;
    });
    await expect(promptOnTerminal("PIN:", "the PIN")).rejects.toThrow("the PIN is needed but there is no terminal to ask on");
  }, 5_000);
});
