/**
 * A UNIX-socket relay in front of a real swtpm that can break the connection at a chosen TPM command, for
 * fault tests: the TPM behind it is real and untouched, the relay only withholds or truncates bytes (or
 * kills the swtpm at that moment). It forwards whole commands one at a time, as TPM clients send them, and
 * keeps every byte the clients wrote (what a bus sniffer would see).
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";

export type FaultAction =
  /** The command never reaches the TPM; the client's connection is closed. */
  | "drop"
  /** The TPM executes the command; the client gets half of the answer, then the connection closes. */
  | "cut-response"
  /** `onKill` runs (kill the swtpm) before the command would be forwarded; the connection then closes. */
  | "kill"
  /** The TPM executes the command; one byte of a successful answer's parameters (a TPM2_Sign signature) is flipped. */
  | "flip-parameter-byte";

export interface Fault {
  /** TPM_CC of the command that triggers the fault. */
  readonly command: number;
  /** Which occurrence of that command, counted from arming (1 = the next one). */
  readonly occurrence?: number;
  readonly action: FaultAction;
  /** For flip-parameter-byte: which byte of the answer is flipped (default 21, in a TPM2_Sign signature). */
  readonly flipByte?: (response: Buffer) => number;
  readonly onKill?: () => Promise<void>;
}

export interface TpmProxy {
  /** What --tpm-device takes. */
  readonly device: string;
  /** Command codes forwarded to the TPM (or withheld by a fault), in order, over all connections. */
  readonly commands: number[];
  /** The commands the TPM answered in full, with the response code (a TPM_RC_RETRY resend counts twice). */
  readonly answered: { readonly command: number; readonly rc: number }[];
  /** The raw bytes clients wrote, chunk by chunk, over all connections. */
  readonly written: Buffer[];
  /** Number of client connections accepted. */
  readonly connections: number;
  /** Resolves when the armed fault has fired. */
  arm(fault: Fault): Promise<void>;
  close(): Promise<void>;
}

export async function startTpmProxy(dir: string, target: string): Promise<TpmProxy> {
  const path = join(dir, `proxy-${process.pid}-${Math.random().toString(36).slice(2, 8)}.sock`);
  const sockets = new Set<Socket>();
  const commands: number[] = [];
  const answered: { command: number; rc: number }[] = [];
  const written: Buffer[] = [];
  let connections = 0;
  let armed: { fault: Fault; seen: number; fired: () => void } | undefined;

  const track = (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
    return s;
  };

  const server: Server = createServer((client) => {
    connections++;
    track(client);
    const upstream = track(createConnection({ path: target }));
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", closeBoth);
    upstream.on("close", closeBoth);
    let fromClient = Buffer.alloc(0);
    let fromTpm = Buffer.alloc(0);
    let cutThisResponse = false;
    let flipThisResponse: ((response: Buffer) => number) | undefined;
    let busy = false;
    let inFlight = 0;

    const nextCommand = async () => {
      if (busy || fromClient.length < 10) return;
      const size = fromClient.readUInt32BE(2);
      if (fromClient.length < size) return;
      const command = fromClient.subarray(0, size);
      fromClient = fromClient.subarray(size);
      const code = command.readUInt32BE(6);
      commands.push(code);
      inFlight = code;
      const fault = armed && armed.fault.command === code && ++armed.seen === (armed.fault.occurrence ?? 1) ? armed : undefined;
      if (fault) armed = undefined;
      busy = true;
      try {
        switch (fault?.fault.action) {
          case "drop":
            closeBoth();
            break;
          case "kill":
            await fault.fault.onKill?.();
            closeBoth();
            break;
          case "cut-response":
            cutThisResponse = true;
            upstream.write(command);
            break;
          case "flip-parameter-byte":
            flipThisResponse = fault.fault.flipByte ?? (() => 21);
            upstream.write(command);
            break;
          default:
            upstream.write(command);
        }
      } finally {
        fault?.fired();
      }
    };

    client.on("data", (chunk: Buffer) => {
      written.push(Buffer.from(chunk));
      fromClient = Buffer.concat([fromClient, chunk]);
      void nextCommand();
    });
    upstream.on("data", (chunk: Buffer) => {
      fromTpm = Buffer.concat([fromTpm, chunk]);
      if (fromTpm.length < 6) return;
      const size = fromTpm.readUInt32BE(2);
      if (fromTpm.length < size) return;
      const response = fromTpm.subarray(0, size);
      fromTpm = fromTpm.subarray(size);
      if (cutThisResponse) {
        client.write(response.subarray(0, Math.floor(size / 2)), () => closeBoth());
        return;
      }
      answered.push({ command: inFlight, rc: response.readUInt32BE(6) });
      if (flipThisResponse && response.readUInt32BE(6) === 0) {
        // Header (10), parameterSize (4), TPMT_SIGNATURE's sigAlg, hash and first size (6): byte 21 is in the signature.
        response[flipThisResponse(response)]! ^= 0x01;
        flipThisResponse = undefined;
      }
      client.write(response);
      busy = false;
      void nextCommand();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });

  return {
    device: `unix:${path}`,
    commands,
    answered,
    written,
    get connections() {
      return connections;
    },
    arm(fault) {
      return new Promise<void>((fired) => {
        armed = { fault, seen: 0, fired };
      });
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
