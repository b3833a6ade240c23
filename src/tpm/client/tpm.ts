import { createHash } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { DeviceError } from "../../errors.js";
import type { Secret } from "../../secrets/secret.js";
import { AuthSession, SessionIntegrityError } from "../sessions/auth-session.js";
import { TpmConnectionLost, type TpmTransport } from "../transport/transport.js";
import { decode, encode, Reader, TpmWireError, u32, Writer } from "../wire/codec.js";
import { FlushContext, Startup, type AnyCommand, type HandleNamesOf, type ParamsOf, type ResponseOf } from "../wire/commands.js";
import { TPM_ST, TPM_SU } from "../wire/constants.js";
import { RC, RETRYABLE_RESPONSE_CODES } from "../wire/response-code.js";
import { TPMS_AUTH_COMMAND, TPMS_AUTH_RESPONSE, type TpmsAuthCommand, type TpmsAuthResponse } from "../wire/structures.js";
import { TpmResponseError } from "./tpm-error.js";
import { secretCopy } from "../../secrets/secret-bytes.js";

/** A handle together with its Name (what cpHash covers): the object Name, or the handle itself for permanent handles. */
export interface Entity {
  readonly handle: number;
  readonly name: Buffer;
}

export function permanentEntity(handle: number): Entity {
  return { handle, name: encode(u32, handle) };
}

/**
 * One authorization in a command's authorization area: TPM_RS_PW, an HMAC session or a policy session (only
 * an AuthSession encrypts parameters). The `authValue` passed in is the authorized entity's password with
 * trailing zero octets removed; a session must never keep it beyond the call.
 */
export interface Session {
  readonly handle: number;
  /** Hash algorithm (node:crypto name) for cpHash/rpHash; undefined for TPM_RS_PW. */
  readonly hashName: string | undefined;
  /** Starts a command: fresh caller nonce, decides on parameter encryption for this command. */
  begin(command: AnyCommand): void;
  commandAuth(cpHash: Buffer | undefined, authValue: Buffer): TpmsAuthCommand;
  /** Checks the response HMAC (rpHash over the parameters as received) and rolls the nonces. */
  acceptResponse(rpHash: Buffer | undefined, auth: TpmsAuthResponse, authValue: Buffer): void;
}

/** One entry of the authorization area: which session authorizes the handle, and the handle's password. */
export interface Authorization {
  readonly session: Session;
  /** The authorized entity's authValue (password); absent means empty. */
  readonly authValue?: Secret | undefined;
  /**
   * Whether the TPM mixes the authValue into the parameter-encryption key: true unless the object has
   * userWithAuth clear and adminWithPolicy set (Part 1 §21.3; libtpms IsAuthValueAvailable).
   */
  readonly authValueInEncryptionKey?: boolean;
}

interface ExecuteResult<C> {
  /** The response handle (CreatePrimary, Load, StartAuthSession); 0 for commands without one. */
  readonly handle: number;
  readonly response: ResponseOf<C>;
}

function stripTrailingZeros(bytes: Buffer): Buffer {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return secretCopy(bytes.subarray(0, end));
}

/** A debug sink (a DebugLog, which ignores the second argument) that can also tell that the TPM answered. */
type TpmDebugLog = (line: string, answer: { readonly rc: number }) => void;

/** A TPM 2.0 client. Only warnings that mean "try again" are retried, never an authorization failure. */
export class Tpm {
  readonly transport: TpmTransport;
  /** How many times a command answered with RETRY/YIELDED/TESTING is sent again (default 5, as tpm2-tss). */
  readonly #maxRetries: number;
  /**
   * Receives one line per answer for --debug ("TPM: " command name, response code, duration), never secrets, and
   * the answer's response code (the signal doctor's "TPM reachable" relies on, not the line's wording).
   */
  readonly #debug: TpmDebugLog | undefined;
  #startupTried = false;

  constructor(transport: TpmTransport, options: { maxRetries?: number; debug?: TpmDebugLog | undefined } = {}) {
    this.transport = transport;
    this.#maxRetries = options.maxRetries ?? 5;
    this.#debug = options.debug;
  }

  async execute<C extends AnyCommand>(
    command: C,
    handles: Record<HandleNamesOf<C>, Entity>,
    params: ParamsOf<C>,
    authorizations: readonly Authorization[] = [],
  ): Promise<ExecuteResult<C>> {
    if (authorizations.length < command.authHandleCount || authorizations.length > 3) {
      throw new Error(`${command.name} needs ${command.authHandleCount} authorization(s), got ${authorizations.length}`);
    }
    const entities = command.handles.map((k) => (handles as Record<string, Entity>)[k]!);
    const authValues = authorizations.map((a) => (a.authValue ? a.authValue.use(stripTrailingZeros) : Buffer.alloc(0)));
    const encryptionAuth = (i: number) => (authorizations[i]!.authValueInEncryptionKey === false ? Buffer.alloc(0) : authValues[i]!);
    try {
      for (const a of authorizations) a.session.begin(command);
      if (authorizations.slice(1).some(({ session: s }) => s instanceof AuthSession && (s.encryptsCommand || s.encryptsResponse))) {
        throw new Error("only the first session may encrypt parameters");
      }
      const parameters = encode(command.params, params);
      const first = authorizations[0]?.session;
      if (first instanceof AuthSession && first.encryptsCommand) first.cfb("command", sizedData(parameters), encryptionAuth(0));

      const cpParts = [encode(u32, command.code), ...entities.map((e) => e.name), parameters];

      const w = new Writer().u16(authorizations.length ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS).u32(0).u32(command.code);
      for (const e of entities) w.u32(e.handle);
      if (authorizations.length) {
        const area = new Writer();
        authorizations.forEach((a, i) => {
          TPMS_AUTH_COMMAND.write(area, a.session.commandAuth(hashOf(a.session.hashName, cpParts), authValues[i]!));
        });
        const areaBytes = area.finish();
        w.u32(areaBytes.length).bytes(areaBytes);
        areaBytes.fill(0);
      }
      w.bytes(parameters);
      const bytes = w.finish();
      bytes.writeUInt32BE(bytes.length, 2);
      parameters.fill(0);

      const raw = await this.#transmit(command.name, command.code, bytes);
      bytes.fill(0);
      return this.#parseResponse(command, raw, authorizations, authValues, encryptionAuth);
    } catch (e) {
      if (e instanceof TpmConnectionLost && authValues.some((v) => v.length > 0)) e.presentedPassword = true;
      throw e;
    } finally {
      for (const v of authValues) v.fill(0);
    }
  }

  async #transmit(name: string, code: number, bytes: Buffer): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      const started = process.hrtime.bigint();
      const response = await this.transport.transmit(bytes);
      if (response.length < 10) throw new DeviceError("TPM_ERROR", `${this.transport.description} sent a ${response.length}-byte response to ${name}`);
      const rc = response.readUInt32BE(6);
      if (this.#debug) {
        const ms = (Number(process.hrtime.bigint() - started) / 1e6).toFixed(2);
        this.#debug(`TPM: ${name} → rc 0x${rc.toString(16)} in ${ms} ms`, { rc });
      }
      if (RETRYABLE_RESPONSE_CODES.has(rc) && attempt < this.#maxRetries) {
        await delay(Math.min(5 * 2 ** attempt, 200));
        continue;
      }
      if (rc === RC.INITIALIZE && code !== Startup.code && !this.#startupTried) {
        // A simulator started without startup-clear: send TPM2_Startup(CLEAR) once, then the command again.
        // Its answer "already started" counts as success.
        this.#startupTried = true;
        await this.execute(Startup, {}, { startupType: TPM_SU.CLEAR }).catch((e) => {
          if (!(e instanceof TpmResponseError && e.rc === RC.INITIALIZE)) throw e;
        });
        continue;
      }
      return response;
    }
  }

  #parseResponse<C extends AnyCommand>(
    command: C,
    raw: Buffer,
    authorizations: readonly Authorization[],
    authValues: readonly Buffer[],
    encryptionAuth: (i: number) => Buffer,
  ): ExecuteResult<C> {
    const r = new Reader(raw);
    const tag = r.u16();
    const size = r.u32();
    const rc = r.u32();
    if (tag === TPM_ST.RSP_COMMAND) {
      throw new DeviceError("TPM_UNAVAILABLE", `${this.transport.description} is not a TPM 2.0 (it answered with a TPM 1.2 response)`);
    }
    if (size !== raw.length) throw new DeviceError("TPM_ERROR", `malformed response to ${command.name}: size field ${size}, received ${raw.length} bytes`);
    if (rc !== 0) throw new TpmResponseError(command.name, rc);
    try {
      const handle = command.responseHandle ? r.u32() : 0;
      const sessions = tag === TPM_ST.SESSIONS;
      if (!sessions && authorizations.length) throw new TpmWireError("response has no authorization area although sessions were used");
      const paramBytes = r.bytes(sessions ? r.u32() : r.remaining, "parameter area");
      const authResponses = authorizations.map(() => TPMS_AUTH_RESPONSE.read(r));
      r.end("authorization area");
      const rpParts = [encode(u32, 0), encode(u32, command.code), paramBytes];
      authorizations.forEach((a, i) => a.session.acceptResponse(hashOf(a.session.hashName, rpParts), authResponses[i]!, authValues[i]!));
      const first = authorizations[0]?.session;
      if (first instanceof AuthSession && first.encryptsResponse) first.cfb("response", sizedData(paramBytes), encryptionAuth(0));
      return { handle, response: decode(command.response, paramBytes, `${command.name} response`) as ResponseOf<C> };
    } catch (cause) {
      if (cause instanceof TpmWireError || cause instanceof SessionIntegrityError) {
        throw new DeviceError("TPM_ERROR", `malformed response to ${command.name}: ${cause.message}`, { cause });
      }
      throw cause;
    }
  }

  async flush(handle: number): Promise<void> {
    await this.execute(FlushContext, {}, { flushHandle: handle });
  }

  /** Best-effort synchronous FlushContext for process-exit handlers: nothing waits for the answer. */
  flushSync(handle: number): void {
    this.transport.transmitSync(new Writer().u16(TPM_ST.NO_SESSIONS).u32(14).u32(FlushContext.code).u32(handle).finish());
  }
}

function hashOf(hash: string | undefined, parts: readonly Uint8Array[]): Buffer | undefined {
  return hash ? parts.reduce((h, p) => h.update(p), createHash(hash)).digest() : undefined;
}

/** The data bytes of the sized buffer at the start of a parameter area (a view: changes write through). */
function sizedData(parameters: Buffer): Buffer {
  if (parameters.length < 2) throw new TpmWireError("parameter area too short for a sized first parameter");
  const n = parameters.readUInt16BE(0);
  if (2 + n > parameters.length) throw new TpmWireError("first parameter overruns the parameter area");
  return parameters.subarray(2, 2 + n);
}
