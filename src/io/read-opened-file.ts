import { close as closeCallback, closeSync, constants, fstat as fstatCallback, fstatSync, type Stats } from "node:fs";
import { open as openCallback, openSync, read as readCallback, readFileSync, statSync, writeSync } from "node:fs";

// Regular files are read synchronously: the first asynchronous fs call starts libuv's thread pool, which costs a
// cold credential_process 1.5–4 ms (node:fs/promises' first import ~2 ms). Anything else (a FIFO from `<(…)`, a
// device) goes through the thread pool, so that a writer that never comes blocks no more than the read itself.

/** The most an input may hold: certificates, keys, bundles and configs are kilobytes, and /dev/zero never ends. */
export const MAX_INPUT_BYTES = 16 * 1024 * 1024;
/** How long a FIFO, pipe or device may take to deliver all its bytes: a FIFO nobody writes to never does. */
export const READ_TIMEOUT_MS = 30_000;

/**
 * The bytes and fstat of one opened file: what is checked (owner, mode, kind) is what is read, even if the
 * name is pointed elsewhere meanwhile. More than MAX_INPUT_BYTES is EFBIG; a FIFO or device that has not delivered
 * everything within `timeoutMs` is ETIMEDOUT (the error's message says which, after the path).
 */
export async function readOpenedFile(path: string, timeoutMs = READ_TIMEOUT_MS): Promise<{ bytes: Buffer; stats: Stats }> {
  // stat first: opening a FIFO waits for a writer, so only what is a regular file by name is opened here, and
  // without blocking (O_NONBLOCK), in case the name is swapped in between; it then goes the asynchronous way.
  const byName = statSync(path);
  if (!byName.isFile()) return readOpenedFileAsync(path, timeoutMs, byName);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    if (stats.isFile()) {
      if (stats.size > MAX_INPUT_BYTES) throw tooLarge();
      return { bytes: readFileSync(fd), stats };
    }
  } finally {
    closeSync(fd);
  }
  return readOpenedFileAsync(path, timeoutMs, statSync(path));
}

/** All of an open pipe, FIFO or device (standard input), within the same limits as {@link readOpenedFile}. */
export function readDescriptor(fd: number): Promise<Buffer> {
  const state: ReadState = { stopped: false };
  return withDeadline(READ_TIMEOUT_MS, readChunks(fd, state), state, `/proc/self/fd/${fd}`, fstatSync(fd));
}

function readOpenedFileAsync(path: string, timeoutMs: number, byName: Stats): Promise<{ bytes: Buffer; stats: Stats }> {
  const state: ReadState = { stopped: false };
  const reading = new Promise<{ bytes: Buffer; stats: Stats }>((resolve, reject) =>
    openCallback(path, "r", (openError, fd) => {
      if (openError) return reject(openError);
      const done = (error: Error | null, result?: { bytes: Buffer; stats: Stats }) =>
        closeCallback(fd, () => (error ? reject(error) : resolve(result!)));
      fstatCallback(fd, (statError, stats) => {
        if (statError) return done(statError);
        if (stats.isDirectory()) return done(Object.assign(new Error(`${path} is a directory`), { code: "EISDIR" }));
        readChunks(fd, state).then((bytes) => done(null, { bytes, stats }), done);
      });
    }),
  );
  return withDeadline(timeoutMs, reading, state, path, byName);
}

/** Set when the deadline has passed: no read after that. */
interface ReadState {
  stopped: boolean;
}

function readChunks(fd: number, state: ReadState): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  return new Promise((resolve, reject) => {
    const next = () =>
      readCallback(fd, Buffer.allocUnsafe(64 * 1024), 0, 64 * 1024, null, (error, n, chunk) => {
        if (error) return reject(error);
        if (n === 0 || state.stopped) return resolve(Buffer.concat(chunks, total));
        total += n;
        if (total > MAX_INPUT_BYTES) return reject(tooLarge());
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
function withDeadline<T>(ms: number, reading: Promise<T>, state: ReadState, path: string, fifo: Stats): Promise<T> {
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

function tooLarge(): Error {
  return errnoError("EFBIG", `holds more than ${MAX_INPUT_BYTES / 1024 / 1024} MiB`);
}

function errnoError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}
