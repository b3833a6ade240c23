import { existsSync } from "node:fs";
import type { Socket } from "node:net";
import { usableCredentials, type Credentials } from "../rolesanywhere/credentials.js";
import { AgentError, ERROR_CODES, InputError, isAgentError, UsageError, type ErrorCode } from "../errors.js";
import { parseJson } from "../io/json.js";
import { isPlainObject } from "../own-value.js";
import { checkSocketPathName, defaultAgentSocketPath } from "./socket-path.js";

/**
 * A profile name (with the absolute path of the config file it must come from, when the line names one), or the ARNs
 * (and role session name) a profile of the agent must have, with the conditions its other settings must meet
 * (request-conditions.ts; not imported here, which would weigh on the launcher's fast path).
 */
export type AgentSelector =
  | string
  | { readonly profile: string; readonly config: string }
  | {
      readonly trustAnchorArn: string;
      readonly profileArn: string;
      readonly roleArn: string;
      readonly roleSessionName?: string | undefined;
      readonly conditions?: Readonly<Record<string, string>> | undefined;
    };

/** How long to wait for the answer, which may include one CreateSession. */
const TIMEOUT_MS = 35_000;
/**
 * How long an agent may take to read the request (its `100 Continue`, which Node's HTTP server sends as soon as
 * it has read the headers) before a client that does not require it signs directly: a stopped agent, or a socket
 * unit whose service cannot start, holds the connection in the socket's backlog and never answers. An agent
 * that took the request (busy with a slow CreateSession) is waited for up to TIMEOUT_MS.
 */
const TAKE_WITHIN_MS = 10_000;
/** Credentials and their headers take 2–4 KiB: more is not our agent (or a broken one), and is not kept. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Asks the agent listening on `socketPath` for credentials. Resolves to undefined when no agent listens
 * there or it has no matching profile (the caller then signs by itself); rejects with the agent's own
 * error (same code, hence same exit code) when the agent has the profile but no usable credentials, and
 * with SOCKET_UNSAFE when the server is not proved to be this user's (socket-trust.ts; nothing is sent then).
 * Deliberately tiny: node:net and a hand-written HTTP/1.1 request, so `credential-process --agent`
 * starts as fast as Node can.
 */
export async function fetchFromAgent(
  socketPath: string,
  selector: AgentSelector,
  debug?: (line: string) => void,
  { notServed, takeWithinMs }: { notServed?: (why: string) => void; takeWithinMs?: number | undefined } = {},
): Promise<Credentials | undefined> {
  const { connectToAgent } = await import("./socket-trust.js");
  const socket = await connectToAgent(socketPath);
  if (!socket) {
    debug?.(`agent: nothing answers at ${socketPath}`);
    return undefined;
  }
  const { status, body } = await request(socket, socketPath, pathFor(selector), takeWithinMs);
  const doc = status === 200 ? undefined : parseJson(body);
  const { Code, Message } = isPlainObject(doc) ? doc : {};
  if (status === 404) {
    const why = typeof Message === "string" && Message !== "" ? `: ${Message}` : "";
    debug?.(`agent: the agent at ${socketPath} does not serve this role (HTTP 404${why})`);
    if (why) notServed?.(`${socketPath}${why}`);
    return undefined;
  }
  if (status !== 200) {
    const code = typeof Code === "string" && Code in ERROR_CODES ? (Code as ErrorCode) : "AGENT_UNAVAILABLE";
    throw new AgentError(code, `agent: ${Message || `the agent answered HTTP ${status}`}`);
  }
  const credentials = parseCredentials(body);
  debug?.(`agent: credentials from the agent at ${socketPath}`);
  return credentials;
}

/**
 * Where a client asks: `socket` (default: the default socket, then `configSocket`'s, read only when the default
 * gives nothing), and whether --agent makes no answer an error.
 */
interface AgentAsk {
  readonly socket?: string | undefined;
  readonly configSocket?: (() => Promise<string | undefined>) | undefined;
  readonly required: boolean;
  readonly env: NodeJS.ProcessEnv;
  /** `--debug`: a line for each socket asked, saying what came of it. */
  readonly debug?: ((line: string) => void) | undefined;
}

/**
 * The running agent's cached credentials for `selector`, or undefined to sign directly. Neither a socket that is
 * not proved to be served by this user (SOCKET_UNSAFE: squatted, planted, swapped) nor an agent that does not take
 * the request (stopped; both go to `onUnsafe`) nor the lack of a default socket (HOME not absolute) stops signing
 * directly; only a required agent makes them, or no answer, an error.
 */
export async function credentialsFromAgent(
  { socket: named, configSocket, required, env, debug }: AgentAsk,
  selector: AgentSelector | (() => AgentSelector),
  onUnsafe: (error: AgentError) => void,
): Promise<Credentials | undefined> {
  // A function is called once, when there is a socket to ask.
  let asking = typeof selector === "function" ? undefined : selector;
  if (named !== undefined) checkSocketPathName(named);
  let socket: string | undefined;
  try {
    socket = named ?? defaultAgentSocketPath(env);
  } catch (error) {
    // A relative ROLES_ANYWHERE_AGENT_SOCKET is said (usage); no default socket (HOME not absolute) only with --agent.
    if (required || error instanceof UsageError) throw error;
  }
  const asked: string[] = [];
  const reasons: string[] = [];
  const ask = async (path: string) => {
    asked.push(path);
    if (!required && !existsSync(path)) {
      debug?.(`agent: no socket at ${path}`);
      return undefined;
    }
    const options = { notServed: (why: string) => reasons.push(why), takeWithinMs: required ? undefined : TAKE_WITHIN_MS };
    asking ??= (selector as () => AgentSelector)();
    return fetchFromAgent(path, asking, debug, options).catch((error: unknown) => {
      if (!required && error instanceof AgentGone) return void debug?.(`agent: nothing answered at ${path}: ${error.message}`);
      if (required || !isAgentError(error) || (error.code !== "SOCKET_UNSAFE" && !(error instanceof AgentNotTaken))) throw error;
      onUnsafe(error);
      return undefined;
    });
  };
  let credentials = socket === undefined ? undefined : await ask(socket);
  const other = credentials || named !== undefined ? undefined : await configSocket?.();
  if (other !== undefined && other !== socket) credentials = await ask(other);
  if (!credentials && required) {
    const why = reasons.length > 0 ? ` (${reasons.join("; ")})` : "";
    throw new InputError("AGENT_UNAVAILABLE", `no agent at ${asked.join(" or ")} serves this role${why}`, {
      hint: "start it with 'roles-anywhere-agent agent', or drop --agent to sign directly",
    });
  }
  return credentials;
}

function pathFor(selector: AgentSelector): string {
  if (typeof selector === "string") return `/v1/credentials/${encodeURIComponent(selector)}`;
  if ("profile" in selector) return `/v1/credentials/${encodeURIComponent(selector.profile)}?${new URLSearchParams({ config: selector.config })}`;
  const q = new URLSearchParams({ "trust-anchor-arn": selector.trustAnchorArn, "profile-arn": selector.profileArn, "role-arn": selector.roleArn });
  if (selector.roleSessionName) q.set("role-session-name", selector.roleSessionName);
  for (const [name, value] of Object.entries(selector.conditions ?? {})) q.set(name, value);
  return `/v1/credentials?${q.toString()}`;
}

function parseCredentials(body: string): Credentials {
  const doc = parseJson(body);
  if (doc === undefined) throw new AgentError("AGENT_UNAVAILABLE", "agent: the answer is not JSON");
  const { Version, AccessKeyId, SecretAccessKey, SessionToken, Expiration } = isPlainObject(doc) ? doc : {};
  const text = (value: unknown): value is string => typeof value === "string" && value !== "";
  if (Version !== 1 || !text(AccessKeyId) || !text(SecretAccessKey) || !text(SessionToken)) {
    throw new AgentError("AGENT_UNAVAILABLE", "agent: the answer holds incomplete credentials; they were not used");
  }
  const expiration = new Date(typeof Expiration === "string" ? Expiration : NaN);
  const credentials = { accessKeyId: AccessKeyId, secretAccessKey: SecretAccessKey, sessionToken: SessionToken, expiration };
  return usableCredentials(credentials, Date.now(), "the agent");
}

/** Why an agent's connection may end before its answer: agent-server.ts's MAX_CONNECTIONS is the 1,024. */
const GONE_HINT = "the agent stopped or restarted, or it already holds its 1,024 connections (another process of yours " +
  "keeps them open: `ss -xp` lists them) and closed this one unanswered; ask again, or drop --agent to sign directly";
/** The agent's connection ended before a byte of its answer: a caller that may sign directly does. */
class AgentGone extends AgentError {}
/** The agent did not take the request within `takeWithinMs`: passed over, as an unsafe socket. */
class AgentNotTaken extends AgentError {}

function request(socket: Socket, socketPath: string, path: string, takeWithinMs?: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Only the first outcome counts (a settled promise ignores the rest).
    const finish = (fn: () => void) => {
      clearTimeout(timer);
      clearTimeout(takeTimer);
      socket.destroy();
      fn();
    };
    const stalled = "(a stopped process, or a socket unit whose service cannot start)";
    const timer = setTimeout(() => {
      const what = size > 0 ? "took the request but did not answer" : `did not take the request ${stalled}`;
      finish(() => reject(new AgentError("AGENT_UNAVAILABLE", `the agent at ${socketPath} ${what} within ${TIMEOUT_MS / 1000} s`)));
    }, TIMEOUT_MS);
    const takeTimer = takeWithinMs === undefined ? undefined : setTimeout(() => {
      const error = new AgentNotTaken("AGENT_UNAVAILABLE", `the agent at ${socketPath} did not take the request within ${takeWithinMs / 1000} s ${stalled}`);
      finish(() => reject(error));
    }, takeWithinMs);
    socket.on("data", (chunk: Buffer) => {
      clearTimeout(takeTimer);
      chunks.push(chunk);
      size += chunk.length;
      const above = `the agent at ${socketPath} sent an answer above ${MAX_ANSWER_BYTES / 1024} KiB; it was not read further`;
      if (size > MAX_ANSWER_BYTES) finish(() => reject(new AgentError("AGENT_UNAVAILABLE", above)));
    });
    // The `100 Continue` asked for comes first, and is no part of the answer.
    const answer = () => Buffer.concat(chunks).toString("utf8").replace(/^(HTTP\/1\.[01] 1\d\d[^\r]*\r\n(?:[^\r]+\r\n)*\r\n)+/, "");
    // Nothing of an answer yet: the agent stopped (a restart, the request queued or taken) or died: as if none listened.
    // Or it holds its most connections, and Node closed this one as it came: only the hint can say so (the same EOF).
    const failure = (message: string) =>
      answer() === "" ? new AgentGone("AGENT_UNAVAILABLE", message, { hint: GONE_HINT }) : new AgentError("AGENT_UNAVAILABLE", message);
    socket.on("error", (error: NodeJS.ErrnoException) =>
      finish(() => reject(failure(`cannot talk to the agent at ${socketPath}: ${error.code ?? error.message}`))),
    );
    socket.on("end", () =>
      finish(() => {
        const text = answer();
        const headerEnd = text.indexOf("\r\n\r\n");
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1]);
        if (headerEnd >= 0 && Number.isInteger(status)) resolve({ status, body: text.slice(headerEnd + 4) });
        else reject(failure(`the agent at ${socketPath} sent an incomplete answer`));
      }),
    );
    // Not end(): a half-closed socket may be dropped before the (possibly slow) answer is written.
    socket.write(`GET ${path} HTTP/1.1\r\nHost: agent\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
  });
}
