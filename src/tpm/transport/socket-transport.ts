import { once } from "node:events";
import { stat } from "node:fs/promises";
import { createConnection, type Socket } from "node:net";
import { DeviceError, InputError } from "../../errors.js";
import { isTrustedPeerUid, loadNativeHelper, peerOf, type NativeHelper, type NativeHelperLoad } from "../../os/native-helper.js";
import { isOwnAddress, procKeys, procPort, tcpSockets, urlHost } from "../../io/listen-tcp.js";
import { checkOwner, fileKind, MAX_SOCKET_PATH_BYTES, UntrustedPathError, walkToEntry, type CheckedEntry } from "../../io/trusted-path.js";
import { Writer } from "../wire/codec.js";
import { completeResponse, deviceOption, exchangeSync, MAX_RESPONSE_SIZE, TpmConnectionLost } from "./transport.js";
import type { TpmTransport } from "./transport.js";

/**
 * `raw`: bare TPM command/response bytes, what swtpm speaks natively (tpm2-tss "swtpm" TCTI).
 * `mssim`: the Microsoft/TCG simulator command port framing: TPM_SEND_COMMAND (8) | locality | length |
 * command, answered by length | response | 0 (tpm2-tss "mssim" TCTI; swtpm accepts it too).
 */
export type SocketFraming = "raw" | "mssim";

export type SocketAddress = { kind: "unix"; path: string } | { kind: "tcp"; host: string; port: number };

const MSSIM_TPM_SEND_COMMAND = 8;
const CONNECT_TIMEOUT_MS = 10_000;
/**
 * A TPM may think long before its answer (an RSA CreatePrimary takes seconds) but then sends all of it at once
 * (8 KB at most): a response that has begun and stalls is a broken or hostile peer, not a slow TPM.
 */
const RESPONSE_REST_TIMEOUT_MS = 5_000;

function describeAddress(address: SocketAddress, framing: SocketFraming): string {
  if (address.kind === "unix") return `${framing === "mssim" ? "mssim+" : ""}unix:${address.path}`;
  return `${framing === "mssim" ? "mssim" : "tcp"}:${urlHost(address.host)}:${address.port}`;
}

/**
 * Any local user can listen on a loopback port or a socket path before swtpm does (at boot, while it restarts): their
 * "TPM" would get every command, the key password's HMAC to guess offline included. So, before the first byte, the
 * peer must run as this user or root, as for the agent socket: by SO_PEERCRED (native helper) on a UNIX socket, by
 * /proc/net/tcp{,6} over TCP. A UNIX socket without the helper: see {@link checkSocketPath}. Unchecked: another host
 * (the operator's choice).
 */
export function checkServedByUs(socket: Socket, address: SocketAddress, description: string, helper: NativeHelper | undefined, readTable = tcpSockets): void {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  let peer: { uid: number; pid?: number } | undefined;
  if (address.kind === "unix") {
    try {
      peer = helper && peerOf(socket, helper);
    } catch (error) {
      throw refuse(description, `its peer credentials cannot be read (${(error as Error).message})`);
    }
    if (helper && !peer) throw refuse(description, "its peer credentials cannot be read (Node.js gives no descriptor for the socket)");
  } else {
    // A peer on another host is not in this table. Any state: a peer that sent its FIN at once still reads. One on this
    // host is, unless the read raced with a change to the table (a read of /proc/net/tcp can then skip lines).
    const keys = procKeys(socket);
    const local = process.platform === "linux" && isOwnAddress(socket.remoteAddress);
    for (let read = 0; !peer && read < (local ? 3 : 1); read++) {
      peer = readTable(["tcp", "tcp6"], `${procPort(socket.localPort ?? 0)} `).find((l) => keys.includes(`${l.local} ${l.remote}`));
    }
    if (!peer && local) throw refuse(description, "its connection is not in /proc/net/tcp{,6}, so who serves it cannot be told");
  }
  if (!peer || isTrustedPeerUid(peer.uid, uid)) return;
  const who = `uid ${peer.uid}${peer.pid !== undefined && peer.pid >= 0 ? ` (pid ${peer.pid})` : ""}`;
  throw refuse(description, `it is served by ${who}, not by this user (${uid}) or root`);
}

function refuse(description: string, why: string): InputError {
  return new InputError("SOCKET_UNSAFE", `refusing the TPM at ${description}: ${why}`, {
    hint: "another user may be listening where the TPM simulator should: stop that process, run swtpm as this user or root",
  });
}

/**
 * Without the helper the peer of a UNIX socket cannot be asked, so its path is checked instead (src/io/trusted-path.ts):
 * directories of this user or root from / down (a sticky /tmp is fine: others cannot replace what is ours there), a
 * socket of this user or root. The caller connects through `entry.directory` (then closes it): what it connects to
 * is what was checked. Undefined where there are no uids. A directory that cannot be reached: the OS error (ENOENT, …).
 */
function checkSocketPath(path: string, description: string): CheckedEntry | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  let entry: CheckedEntry;
  try {
    entry = walkToEntry(path, { uid });
  } catch (error) {
    throw error instanceof UntrustedPathError ? refuse(description, error.reason) : error;
  }
  try {
    // Anything else cannot be connected to: the connection's own error says what it is.
    if (entry.stats?.isSocket()) checkOwner(entry.stats, "the socket", uid, entry.directory.rule);
  } catch (error) {
    entry.directory.close();
    throw error instanceof UntrustedPathError ? refuse(description, error.reason) : error;
  }
  return entry;
}

/**
 * A TPM simulator (swtpm, ibmswtpm2/mssim) on a UNIX or TCP socket: one persistent connection, one command
 * at a time. The socket does not keep the process alive while idle.
 */
export class SocketTransport implements TpmTransport {
  readonly description: string;
  readonly #address: SocketAddress;
  readonly #framing: SocketFraming;
  /** How long one command may take before we give up (a busy swtpm never answers a second client). */
  readonly #responseTimeoutMs: number;
  /** How long the rest of a response may take once its first bytes have come. */
  readonly #restTimeoutMs: number;
  /** How hints name the device option (see {@link deviceOption}). */
  readonly #option: string | undefined;
  /** Which way the peer of a UNIX socket is checked; default: the native helper when it loads, else its path. */
  readonly #native: NativeHelperLoad | undefined;
  #socket: Socket | undefined;
  #received: Buffer = Buffer.alloc(0);
  /** The exchange awaiting its response; `begun` is told once its first bytes have come. */
  #pending: { resolve(r: Buffer): void; reject(e: Error): void; begun?: (() => void) | undefined } | undefined;
  #busy: Promise<unknown> = Promise.resolve();
  #closed = false;
  epoch = 0;

  constructor(
    address: SocketAddress,
    options: { framing?: SocketFraming; responseTimeoutMs?: number; restTimeoutMs?: number; option?: string; native?: NativeHelperLoad } = {},
  ) {
    this.#native = options.native;
    this.#address = address;
    this.#framing = options.framing ?? "raw";
    this.#option = options.option;
    this.#responseTimeoutMs = options.responseTimeoutMs ?? 60_000;
    this.#restTimeoutMs = Math.min(options.restTimeoutMs ?? RESPONSE_REST_TIMEOUT_MS, this.#responseTimeoutMs);
    this.description = describeAddress(address, this.#framing);
  }

  transmit(command: Buffer): Promise<Buffer> {
    const run = this.#busy.then(() => this.#exchange(command));
    this.#busy = run.catch(() => undefined);
    return run;
  }

  ready(): Promise<Socket> {
    return this.#connect();
  }

  async #connect(): Promise<Socket> {
    if (this.#socket) return this.#socket;
    const length = this.#address.kind === "unix" ? Buffer.byteLength(this.#address.path) : 0;
    if (length > MAX_SOCKET_PATH_BYTES) {
      const message = `the TPM socket path is ${length} bytes long, above the OS limit of ${MAX_SOCKET_PATH_BYTES}`;
      const hint = "reach the socket through a shorter path, e.g. a symbolic link in a short directory";
      throw new InputError("TPM_DEVICE_INVALID", `${message}: ${this.description}`, { hint });
    }
    const helper: NativeHelper | undefined = this.#address.kind === "unix" ? (this.#native ?? loadNativeHelper()).helper : undefined;
    const unavailable = (cause: NodeJS.ErrnoException) =>
      new DeviceError("TPM_UNAVAILABLE", `cannot connect to the TPM at ${this.description}: ${cause.code ?? cause.message}`, {
        cause,
        hint: `is the TPM simulator running? Check ${deviceOption(this.#option)}`,
      });
    let checked: CheckedEntry | undefined;
    try {
      checked = this.#address.kind === "unix" && !helper ? checkSocketPath(this.#address.path, this.description) : undefined;
    } catch (error) {
      throw error instanceof InputError ? error : unavailable(error as NodeJS.ErrnoException);
    }
    const opts = this.#address.kind === "tcp" ? { host: this.#address.host, port: this.#address.port }
      : { path: checked ? checked.directory.entry(checked.name) : this.#address.path };
    let socket!: Socket;
    const started = performance.now();
    const connect = async (): Promise<void> => {
      for (;;) {
        socket = createConnection(opts);
        try {
          return void (await once(socket, "connect", { signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS) }));
        } catch (error) {
          // swtpm's queue on a UNIX socket is full (it serves one client at a time): wait, as the kernel does over TCP.
          if ((error as NodeJS.ErrnoException).code !== "EAGAIN" || performance.now() - started >= this.#responseTimeoutMs) throw error;
          socket.destroy();
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    };
    await connect().finally(() => checked?.directory.close()).catch(async (cause: NodeJS.ErrnoException) => {
      socket.destroy();
      if (cause.code === "EAGAIN") throw this.#noAnswer();
      if (cause.name === "AbortError") throw new DeviceError("TPM_UNAVAILABLE", `timed out connecting to the TPM at ${this.description}`);
      // A path that is no socket at all refuses too: that is a wrong --tpm-device, not a simulator that is down.
      const path = this.#address.kind === "unix" && cause.code === "ECONNREFUSED" ? this.#address.path : undefined;
      const info = path === undefined ? undefined : await stat(path).catch(() => undefined);
      if (info && !info.isSocket()) {
        const hint = info.isCharacterDevice()
          ? `for a TPM device give its path alone: ${path}`
          : `point ${deviceOption(this.#option)} at the simulator's socket`;
        throw new InputError("TPM_DEVICE_INVALID", `the TPM socket ${path} is ${fileKind(info)}, not a socket`, { hint });
      }
      throw unavailable(cause);
    });
    try {
      checkServedByUs(socket, this.#address, this.description, helper);
    } catch (error) {
      socket.destroy();
      throw error;
    }
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (cause) => {
      this.#fail(new TpmConnectionLost("TPM_ERROR", `connection to ${this.description} failed: ${cause.message}`, { cause }));
    });
    socket.on("close", () => {
      // A socket already dropped by #fail must not fail the exchange of its successor.
      if (this.#socket === socket) this.#fail(new TpmConnectionLost("TPM_ERROR", `the TPM at ${this.description} closed the connection`));
    });
    socket.unref();
    this.#socket = socket;
    return socket;
  }

  #frame(command: Buffer): Buffer {
    return this.#framing === "raw" ? command : new Writer().u32(MSSIM_TPM_SEND_COMMAND).u8(0).u32(command.length).bytes(command).finish();
  }

  /** A complete response at the start of `buf`, and how many bytes it used; undefined if more is needed. */
  #unframe(buf: Buffer): { response: Buffer; used: number } | undefined {
    if (this.#framing === "raw") {
      const response = completeResponse(buf, this.description);
      return response && { response, used: response.length };
    }
    if (buf.length < 4) return undefined;
    const size = buf.readUInt32BE(0);
    if (size < 10 || size > MAX_RESPONSE_SIZE) throw new DeviceError("TPM_ERROR", `${this.description} sent an mssim frame with an invalid size (${size})`);
    if (buf.length < 4 + size + 4) return undefined;
    const trailer = buf.readUInt32BE(4 + size);
    if (trailer !== 0) throw new DeviceError("TPM_ERROR", `${this.description} sent an mssim frame with trailer ${trailer} (expected 0)`);
    return { response: Buffer.from(buf.subarray(4, 4 + size)), used: size + 8 };
  }

  #onData(chunk: Buffer): void {
    const pending = this.#pending;
    // A TPM speaks only when asked: bytes between commands are a broken or hostile peer (kept, they would pile up).
    if (!pending) return this.#fail(new TpmConnectionLost("TPM_ERROR", `the TPM at ${this.description} sent data unasked`));
    this.#received = Buffer.concat([this.#received, chunk]);
    try {
      const done = this.#unframe(this.#received);
      if (!done) {
        pending.begun?.();
        pending.begun = undefined;
        return;
      }
      const extra = this.#received.length - done.used;
      if (extra > 0) throw new DeviceError("TPM_ERROR", `${this.description} sent ${extra} bytes after its response (a TPM sends one response per command)`);
      this.#received = Buffer.alloc(0);
      this.#pending = undefined;
      pending.resolve(done.response);
    } catch (e) {
      this.#fail(e as Error);
    }
  }

  /** Fails the pending exchange and drops the connection (the stream is out of step). */
  #fail(error: Error): void {
    const pending = this.#pending;
    this.#pending = undefined;
    this.#received = Buffer.alloc(0);
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) this.epoch++;
    socket?.destroy();
    pending?.reject(error);
  }

  #noAnswer(): TpmConnectionLost {
    const message = `no answer from the TPM at ${this.description} within ${Math.round(this.#responseTimeoutMs / 1000)} s`;
    return new TpmConnectionLost("TPM_UNAVAILABLE", message, { hint: "swtpm serves one client at a time: is another program connected to it?" });
  }

  async #exchange(command: Buffer): Promise<Buffer> {
    if (this.#closed) throw new DeviceError("TPM_UNAVAILABLE", `the TPM connection to ${this.description} was already closed`);
    const socket = await this.#connect();
    this.#received = Buffer.alloc(0);
    socket.ref();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<Buffer>((resolve, reject) => {
        const within = (ms: number) => `${Math.round(ms / 1000)} s`;
        timer = setTimeout(() => this.#fail(this.#noAnswer()), this.#responseTimeoutMs);
        const begun = () => {
          clearTimeout(timer);
          timer = setTimeout(() => {
            const got = `the TPM at ${this.description} sent ${this.#received.length} bytes of an answer`;
            const message = `${got}, then nothing more for ${within(this.#restTimeoutMs)}`;
            const hint = "a TPM sends its whole answer at once: check the program at that address";
            this.#fail(new TpmConnectionLost("TPM_ERROR", message, { hint }));
          }, this.#restTimeoutMs);
        };
        this.#pending = { resolve, reject, begun };
        socket.write(this.#frame(command));
      });
    } finally {
      clearTimeout(timer);
      this.#socket?.unref();
    }
  }

  transmitSync(command: Buffer): Buffer | undefined {
    // Only from an exit handler, when no asynchronous exchange is in progress: libuv will not read the
    // socket any more, so the response can be read from the descriptor directly.
    const fd = (this.#socket as unknown as { _handle?: { fd?: number } } | undefined)?._handle?.fd;
    if (fd === undefined || fd < 0 || this.#pending) return undefined;
    return exchangeSync(fd, this.#frame(command), (received) => this.#unframe(received)?.response);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#busy;
    const socket = this.#socket;
    this.#socket = undefined;
    if (!socket) return;
    // Keep the event loop alive until the close completes (an idle socket is unref'd); destroy it after 1 s.
    socket.ref();
    socket.end();
    await once(socket, "close", { signal: AbortSignal.timeout(1000) }).catch(() => socket.destroy());
  }
}
