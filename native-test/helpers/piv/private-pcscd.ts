/**
 * A pcscd of our own with vsmartcard's vpcd reader driver, for one test file, and a virtual card plugged
 * into it. pcscd hard-codes its socket under /run/pcscd and Debian's vpcd listens on 0.0.0.0:35963, so
 * pcscd runs in a private mount namespace (a temp directory bind-mounted on /run/pcscd, where clients find
 * it through PCSCLITE_CSOCK_NAME) and a private network namespace (loopback only: nothing outside can
 * reach vpcd, and two test files never share a port). The card connects to vpcd from inside that network
 * namespace: a short-lived helper entered into it opens the TCP connection and hands the socket over.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
const VPCD_PORT = 0x8c7b;

/** vpcd's wire protocol: 2-byte big-endian length, then a control byte (length 1) or an APDU. */
const VPCD_POWER_OFF = 0;
const VPCD_POWER_ON = 1;
const VPCD_RESET = 2;
const VPCD_GET_ATR = 4;

export interface VirtualCard {
  readonly atr: Buffer;
  /** undefined: no answer (a card pulled while it works; the card is expected to call remove()). */
  transmit(apdu: Buffer): Buffer | undefined;
  reset(): void;
}

export interface PrivatePcscd {
  /** Environment entries that point PC/SC clients (OpenSC, ykcs11) at this pcscd. */
  readonly clientEnv: NodeJS.ProcessEnv;
  /** The reader's name as pcscd shows it (the friendly name and " 00 00"). */
  readonly readerName: string;
  /** Plugs the card into the reader; resolves once pcscd has seen it. */
  insert(card: VirtualCard): Promise<void>;
  /** Pulls the card out. */
  remove(): Promise<void>;
  /** pcscd's log so far (with `apduLog`, every APDU in both directions). */
  log(): string;
  stop(): Promise<void>;
}

export interface PrivatePcscdOptions {
  /** The reader's friendly name; ykcs11 only looks at readers whose name begins with "Yubico". */
  readerName: string;
  /** pcscd --debug --apdu: log every APDU (for finding out what a module sends). */
  apduLog?: boolean;
}

export async function startPrivatePcscd(options: PrivatePcscdOptions): Promise<PrivatePcscd> {
  const dir = mkdtempSync(join(tmpdir(), "raa-pcscd-"));
  const runDir = join(dir, "run");
  const confDir = join(dir, "reader.conf.d");
  mkdirSync(runDir);
  mkdirSync(confDir);
  writeFileSync(
    join(confDir, "vpcd"),
    `FRIENDLYNAME "${options.readerName}"\nDEVICENAME /dev/null:0x${VPCD_PORT.toString(16)}\nLIBPATH ${VPCD_DRIVER}\nCHANNELID 0x${VPCD_PORT.toString(16)}\n`,
  );
  const socketPath = join(runDir, "pcscd.comm");
  // Debian's vpcd (3.3) writes each message's length and its body with two send()s and leaves Nagle on, so
  // the body waits for the ACK of the length, which Linux delays by 40 ms: quick ACKs on this namespace's
  // loopback routes take that out of every APDU. /run gets a private tmpfs, so that /run/pcscd can exist
  // without touching the host's /run.
  const quickAck = ["127.0.0.0/8", "127.0.0.1"].map((to) => `ip route change local ${to} dev lo table local proto kernel scope host src 127.0.0.1 quickack 1`);
  const script =
    `ip link set lo up && ${quickAck.join(" && ")} && ` +
    'mount -t tmpfs -o mode=0755 raa-run /run && mkdir /run/pcscd && mount --bind "$1" /run/pcscd && ' +
    `exec pcscd --foreground ${options.apduLog ? "--debug --apdu " : ""}--config "$2"`;
  const pcscd = spawn("unshare", ["--mount", "--net", "--propagation", "private", "--", "sh", "-c", script, "pcscd", runDir, confDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  pcscd.stdout.on("data", (d: Buffer) => (log += d.toString()));
  pcscd.stderr.on("data", (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => pcscd.once("exit", () => resolve()));

  let link: Socket | undefined;
  let present = false;
  const stopLink = async () => {
    if (!link) return;
    const closing = link;
    link = undefined;
    await new Promise<void>((resolve) => {
      closing.once("close", () => resolve());
      closing.destroy();
    });
  };
  const stop = async () => {
    await stopLink();
    if (pcscd.exitCode === null && pcscd.signalCode === null) {
      pcscd.kill("SIGTERM");
      const timer = setTimeout(() => pcscd.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(() => existsSync(socketPath), "pcscd's socket", pcscd, () => log);
    return {
      clientEnv: { PCSCLITE_CSOCK_NAME: socketPath },
      readerName: `${options.readerName} 00 00`,
      async insert(card) {
        await stopLink();
        present = false;
        link = await connectInside(pcscd, () => log);
        serve(link, card, () => (present = true));
        await until(() => present, "pcscd to power the card", pcscd, () => log);
      },
      remove: stopLink,
      log: () => log,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Answers vpcd's messages for `card` on `socket`. `ready` is called once pcscd has powered the card and
 * polled it again afterwards: only then has pcscd published the card to clients (a client that connects
 * earlier can leave pcscd's reader thread waiting for good, which ykcs11, being quick, manages to do).
 */
function serve(socket: Socket, card: VirtualCard, ready: () => void): void {
  let buffered = Buffer.alloc(0);
  let atrRequestsSincePowerOn: number | undefined;
  const send = (payload: Buffer) => {
    const frame = Buffer.alloc(2 + payload.length);
    frame.writeUInt16BE(payload.length, 0);
    payload.copy(frame, 2);
    socket.write(frame);
  };
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2) {
      const size = buffered.readUInt16BE(0);
      if (buffered.length < 2 + size) break;
      const message = buffered.subarray(2, 2 + size);
      buffered = buffered.subarray(2 + size);
      if (size !== 1) {
        const answer = card.transmit(Buffer.from(message));
        if (answer === undefined) return;
        send(answer);
        continue;
      }
      const control = message[0];
      if (control === VPCD_GET_ATR) {
        send(card.atr);
        if (atrRequestsSincePowerOn !== undefined && ++atrRequestsSincePowerOn === 2) ready();
      } else if (control === VPCD_POWER_ON || control === VPCD_POWER_OFF || control === VPCD_RESET) {
        card.reset();
        if (control === VPCD_POWER_ON) atrRequestsSincePowerOn ??= 0;
      }
    }
  });
  socket.on("error", () => undefined);
  socket.resume();
}

/**
 * A TCP connection to vpcd on the loopback of pcscd's network namespace: a node process entered into that
 * namespace connects and passes the socket back over its IPC channel. vpcd accepts only while pcscd polls
 * the reader, so this is retried until it succeeds.
 */
async function connectInside(pcscd: ChildProcess, log: () => string): Promise<Socket> {
  const helper =
    // Paused before its first read: whatever vpcd sends must reach the card, not this helper.
    `const s=require("node:net").connect(${VPCD_PORT},"127.0.0.1",()=>{s.pause();process.send("vpcd",s,()=>process.exit(0))});` +
    `s.on("error",()=>process.exit(3));`;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    // pcscd runs as unshare's child `sh` exec'ed into pcscd: the namespace is the unshare process's.
    const child = spawn("nsenter", ["--target", String(pcscd.pid), "--net", "--", process.execPath, "-e", helper], { stdio: ["ignore", "ignore", "ignore", "ipc"] });
    const socket = await new Promise<Socket | undefined>((resolve) => {
      child.once("message", (_message, handle) => resolve(handle as Socket));
      child.once("exit", () => resolve(undefined));
    });
    if (socket) {
      socket.setNoDelay(true);
      return socket;
    }
    if (pcscd.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`cannot connect to vpcd inside pcscd's namespace; pcscd log:\n${log()}`);
}

async function until(check: () => boolean, what: string, pcscd: ChildProcess, log: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (pcscd.exitCode !== null || Date.now() > deadline) {
      throw new Error(`${pcscd.exitCode !== null ? "pcscd exited" : "timed out"} waiting for ${what}; pcscd log:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
