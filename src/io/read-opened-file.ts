import { close as closeCallback, closeSync, constants, fstat as fstatCallback, fstatSync, type Stats } from "node:fs";
import { open as openCallback, openSync, read as readCallback, readFileSync, statSync, writeSync } from "node:fs";

// Regular files are read synchronously: the first asynchronous fs call starts libuv's thread pool, which costs a
// cold credential_process 1.5–4 ms (node:fs/promises' first import ~2 ms). Anything else (a FIFO from `<(…)`, a
// device) goes through the thread pool, so that a writer that never comes blocks no more than the read itself.

/** The most an input may hold: certificates, keys, bundles and configs are kilobytes, and /dev/zero never ends. */
export const MAX_INPUT_BYTES = 16 * 1024 * 1024;
/** How long a FIFO, pipe or device may take to deliver all its bytes: a FIFO nobody writes to never does. */
export const READ_TIMEOUT_MS = 30_000;

export interface ReadLimits {
  readonly maxBytes?: number;
  readonly timeoutMs?: number;
}

/**
 * The bytes and fstat of one opened file: what is checked (owner, mode, kind) is what is read, even if the
 * name is pointed elsewhere meanwhile. More than `maxBytes` is EFBIG; a FIFO or device that has not delivered
 * everything within `timeoutMs` is ETIMEDOUT (the error's message says which, after the path).
 */
export async function readOpenedFile(path: string, limits: ReadLimits = {}): Promise<{ bytes: Buffer; stats: Stats }> {
  // stat first: opening a FIFO waits for a writer, so only what is a regular file by name is opened here, and
  // without blocking (O_NONBLOCK), in case the name is swapped in between; it then goes the asynchronous way.
  const byName = statSync(path);
  if (!byName.isFile()) return readOpenedFileAsync(path, limits, byName);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    if (stats.isFile()) {
      if (stats.size > (limits.maxBytes ?? MAX_INPUT_BYTES)) throw tooLarge(limits);
      return { bytes: readFileSync(fd), stats };
    }
  } finally {
    closeSync(fd);
  }
  return readOpenedFileAsync(path, limits, statSync(path));
}

/** All of an open pipe, FIFO or device (standard input), within the same limits as {@link readOpenedFile}. */
export function readDescriptor(fd: number, limits: ReadLimits = {}): Promise<Buffer> {
  const state: ReadState = { stopped: false };
  const path = `/proc/self/fd/${fd}`;
  return withDeadline(limits, readChunks(fd, limits.maxBytes ?? MAX_INPUT_BYTES, state), state, path, fstatSync(fd));
}

function readOpenedFileAsync(path: string, limits: ReadLimits, byName: Stats): Promise<{ bytes: Buffer; stats: Stats }> {
  const state: ReadState = { stopped: false };
  const reading = new Promise<{ bytes: Buffer; stats: Stats }>((resolve, reject) =>
    openCallback(path, "r", (openError, fd) => {
      if (openError) return reject(openError);
      const done = (error: Error | null, result?: { bytes: Buffer; stats: Stats }) =>
        closeCallback(fd, () => (error ? reject(error) : resolve(result!)));
      fstatCallback(fd, (statError, stats) => {
        if (statError) return done(statError);
        if (stats.isDirectory()) return done(Object.assign(new Error(`${path} is a directory`), { code: "EISDIR" }));
        readChunks(fd, limits.maxBytes ?? MAX_INPUT_BYTES, state).then((bytes) => done(null, { bytes, stats }), done);
      });
    }),
  );
  return withDeadline(limits, reading, state, path, byName);
}

/** Set when the deadline has passed: no read after that. */
interface ReadState {
  stopped: boolean;
}

function readChunks(fd: number, maxBytes: number, state: ReadState): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  return new Promise((resolve, reject) => {
    const next = () =>
      readCallback(fd, Buffer.allocUnsafe(64 * 1024), 0, 64 * 1024, null, (error, n, chunk) => {
        if (error) return reject(error);
        if (n === 0 || state.stopped) return resolve(Buffer.concat(chunks, total));
        total += n;
        if (total > maxBytes) return reject(tooLarge({ maxBytes }));
        chunks.push(chunk.subarray(0, n));
        next();
      });
    next();
  });
}

/**
 * `reading`, or ETIMEDOUT when it has not settled in time. An open() or read() still waiting then holds a
 * thread-pool thread, which process.exit() waits for: a FIFO or pipe is woken through its write end.
 */
function withDeadline<T>(limits: ReadLimits, reading: Promise<T>, state: ReadState, path: string, fifo: Stats): Promise<T> {
  const ms = limits.timeoutMs ?? READ_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    const seconds = `${Math.round(ms / 100) / 10} s`;
    const message = `gave nothing to read, or not all of it, within ${seconds}`;
    timer = setTimeout(() => {
      state.stopped = true;
      reject(errnoError("ETIMEDOUT", message));
      wakeReader(path, fifo);
    }, ms);
  });
  return Promise.race([reading, late]).finally(() => clearTimeout(timer));
}

/**
 * One byte through the write end of the FIFO or pipe `path`: a waiting open() returns, a waiting read() too. Only
 * into the FIFO that was being read: a name pointed at another one meanwhile gets nothing.
 */
function wakeReader(path: string, fifo: Stats): void {
  try {
    const now = statSync(path);
    if (!now.isFIFO() || now.ino !== fifo.ino || now.dev !== fifo.dev) return;
    const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      writeSync(fd, "\n");
    } finally {
      closeSync(fd);
    }
  } catch {
    // Nothing waits on it any more (ENXIO), or it is full: a read that waits has data.
  }
}

function tooLarge(limits: ReadLimits): Error {
  return errnoError("EFBIG", `holds more than ${(limits.maxBytes ?? MAX_INPUT_BYTES) / 1024 / 1024} MiB`);
}

function errnoError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}
