/**
 * A library host closed while it prompts on its terminal: the child gets a pty as its controlling terminal, and once
 * its prompt shows (echo off) it is sent SIGUSR1, on which it runs {@link CLOSE_ON_SIGUSR1}.
 */
import { spawnSync } from "node:child_process";

/** The end of a child script whose `provider` (a function with `close()`) is to prompt when called. */
export const CLOSE_ON_SIGUSR1 = `
  const pending = provider().then(() => "credentials", (e) => \`\${e.name} \${e.code} \${e.message}\`);
  setInterval(() => {}, 1000); // alive until the parent ends it
  process.on("SIGUSR1", async () => {
    await provider.close();
    process.stderr.write(\`closed\\n\${await pending}\\n\`);
  });`;

/**
 * Runs `node entry`, closes it once `prompt` shows, then types a line. Returns what the child said after SIGUSR1
 * (within 20 s), whether echo was back on then, and the typed line if it is still unread in the terminal's queue.
 */
export function closeWhilePrompting(entry: string, prompt: string, env: NodeJS.ProcessEnv = process.env): string {
  const parent = [
    "import os, pty, subprocess, sys, time, select, fcntl, termios, signal",
    "master, slave = pty.openpty()",
    "env = {k: v for k, v in os.environ.items() if k != 'CI'}",
    "p = subprocess.Popen(sys.argv[2:], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,",
    "  start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))",
    "def read(fd, done, t):",
    "  seen, deadline = b'', time.time() + t",
    "  while not done(seen) and time.time() < deadline:",
    "    if select.select([fd], [], [], 0.1)[0]: seen += os.read(fd, 200)",
    "  return seen",
    "echo = lambda: bool(termios.tcgetattr(slave)[3] & termios.ECHO)",
    "def wait(done, t):",
    "  deadline = time.time() + t",
    "  while not done() and time.time() < deadline: time.sleep(0.01)",
    "read(master, lambda seen: sys.argv[1].encode() in seen, 60)",
    "wait(lambda: not echo(), 20)",
    "os.kill(p.pid, signal.SIGUSR1)",
    "said = read(p.stderr.fileno(), lambda seen: seen.count(b'\\n') >= 2, 20) # 'closed', then the call's outcome",
    "restored = echo()",
    "os.write(master, b'typed-later\\r')",
    "left = read(slave, lambda seen: b'\\n' in seen, 5) # still in the terminal's queue: nobody read it as a secret",
    "p.kill()",
    "p.communicate(timeout=20)",
    "print(repr(said.decode()), 'echo' if restored else 'no echo', repr(left.decode()))",
  ].join("\n");
  const args = ["-c", parent, prompt, process.execPath, entry];
  return spawnSync("python3", args, { encoding: "utf8", timeout: 150_000, env }).stdout;
}
