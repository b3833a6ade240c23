import {
  close as closeCallback, closeSync, constants, fstatSync, openSync, read as readCallback, readSync, statSync,
  writeSync, type Stats,
} from "node:fs";
import { osError } from "./trusted-path.js";

// Regular files are read synchronously: the first asynchronous fs call starts libuv's thread pool, which costs a
// cold credential_process 1.5–4 ms (node:fs/promises' first import ~2 ms). A FIFO (`<(…)`) is polled, a device
// goes through the thread pool: a writer that never comes blocks no more than the read itself.

/** The most an input may hold: certificates, keys, bundles and configs are kilobytes, and /dev/zero never ends. */
export const MAX_INPUT_BYTES = 16 * 1024 * 1024;
/** How long a FIFO, pipe or device may take to deliver all its bytes: a FIFO nobody writes to never does. */
const READ_TIMEOUT_MS = 30_000;

/**
 * The bytes and fstat of one opened file: what is checked (owner, mode, kind) is what is read, even if the
 * name is pointed elsewhere meanwhile. More than MAX_INPUT_BYTES is EFBIG; a FIFO, device or file of no size that
 * has not delivered everything within `timeoutMs` is ETIMEDOUT (the error's message says which, after the path).
 * `onOpen` is given the descriptor and its fstat, to ask more of that same file (a secret file's ACL).
 */
export async function readOpenedFile(
  path: string, timeoutMs = READ_TIMEOUT_MS, allocate: Allocate = Buffer.allocUnsafe, onOpen?: OnOpen,
): Promise<{ bytes: Buffer; stats: Stats }> {
  // One open, without blocking (O_NONBLOCK: opening a FIFO would wait for a writer), and one fstat decide; all is
  // read from this descriptor, never from the name again (it may point elsewhere by then: a FIFO, another file).
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  let inFlight: Promise<unknown> | undefined; // a device's read: the descriptor is closed once it has returned
  try {
    const stats = fstatSync(fd);
    if (stats.isDirectory()) throw osError("EISDIR", `${path} is a directory`);
    onOpen?.(fd, stats);
    if (stats.isFIFO()) {
      const state: ReadState = { stopped: false };
      return { bytes: await withDeadline(timeoutMs, pollFifo(fd, state, allocate), state, path), stats };
    }
    // A device, or a file that reports no size (/proc, some FUSE mounts, one still being written): within the
    // limit and the deadline. Otherwise `size` bytes, with no second fstat.
    if (!stats.isFile() || stats.size === 0) {
      const state: ReadState = { stopped: false };
      inFlight = readChunks(fd, state, allocate);
      return { bytes: await withDeadline(timeoutMs, inFlight as Promise<Buffer>, state, path), stats };
    }
    if (stats.size > MAX_INPUT_BYTES) throw tooLarge();
    return { bytes: readSized(fd, stats.size), stats };
  } finally {
    if (inFlight) void inFlight.then(() => closeCallback(fd, () => {}), () => closeCallback(fd, () => {}));
    else closeSync(fd);
  }
}

/** At most `size` bytes of the regular file open as `fd` (its fstat's size: what it holds if it grows meanwhile is not read). */
export function readSized(fd: number, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let length = 0;
  for (let n = 1; n > 0 && length < bytes.length; length += n) n = readSync(fd, bytes, { offset: length });
  return bytes.subarray(0, length);
}

/** All of an open pipe, FIFO or device (standard input), within the same limits as {@link readOpenedFile}. */
export function readDescriptor(fd: number): Promise<Buffer> {
  const state: ReadState = { stopped: false };
  return withDeadline(READ_TIMEOUT_MS, readChunks(fd, state, Buffer.allocUnsafe), state, `/proc/self/fd/${fd}`, fstatSync(fd));
}

/** Set when the deadline has passed: no read after that. */
interface ReadState {
  stopped: boolean;
}

/** What else is read of a file opened for its bytes, from its descriptor (readOpenedFile). */
export type OnOpen = (fd: number, stats: Stats) => void;

/** Where the read buffers come from (a test hands its own, to see them wiped). */
type Allocate = (size: number) => Buffer;
const CHUNK = 64 * 1024;

function readChunks(fd: number, state: ReadState, allocate: Allocate): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  return new Promise((resolve, reject) => {
    const next = () =>
      readCallback(fd, allocate(CHUNK), 0, CHUNK, null, (error, n, chunk) => {
        // A non-blocking pipe (a parent's stdin) with nothing in it yet: polled as a FIFO is, until the deadline.
        if (error?.code === "EAGAIN" && !state.stopped) return void setTimeout(next, 10);
        if (n > 0) chunks.push(chunk.subarray(0, n));
        total += n || 0;
        if (error) return settle(chunks, total, resolve, reject, error);
        if (n === 0 || state.stopped) return settle(chunks, total, resolve, reject);
        if (total > MAX_INPUT_BYTES) return settle(chunks, total, resolve, reject, tooLarge());
        next();
      });
    next();
  });
}

/**
 * All a FIFO opened with O_NONBLOCK gets, polled: read() answers EAGAIN while a writer has nothing more yet, and 0
 * both before the first writer and after the last: the end is a 0 after some bytes.
 */
function pollFifo(fd: number, state: ReadState, allocate: Allocate): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  return new Promise((resolve, reject) => {
    const poll = () => {
      try {
        while (!state.stopped) {
          const chunk = allocate(CHUNK);
          const n = readSync(fd, chunk);
          if (n === 0 && total > 0) return settle(chunks, total, resolve, reject);
          if (n === 0) break;
          chunks.push(chunk.subarray(0, n));
          total += n;
          if (total > MAX_INPUT_BYTES) return settle(chunks, total, resolve, reject, tooLarge());
        }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EAGAIN") return settle(chunks, total, resolve, reject, error);
      }
      // Past the deadline (which has answered): what was read is only wiped.
      if (state.stopped) settle(chunks, total, resolve, reject);
      else setTimeout(poll, 10);
    };
    poll();
  });
}

/** Settles with the chunks joined, or with `error`, then zeroes them: a PIN's bytes are left only in the caller's copy. */
function settle(chunks: Buffer[], total: number, resolve: (bytes: Buffer) => void, reject: (error: unknown) => void, error?: unknown): void {
  if (error === undefined) resolve(Buffer.concat(chunks, total));
  else reject(error);
  for (const chunk of chunks) chunk.fill(0);
}

/**
 * `reading`, or ETIMEDOUT when it has not settled in time. An open() or read() still waiting then holds a
 * thread-pool thread, which process.exit() waits for: a FIFO or pipe is woken through its write end.
 */
function withDeadline<T>(ms: number, reading: Promise<T>, state: ReadState, path: string, fifo?: Stats): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    const seconds = `${Math.round(ms / 100) / 10} s`;
    const message = `gave nothing to read, or not all of it, within ${seconds}`;
    timer = setTimeout(() => {
      state.stopped = true;
      reject(osError("ETIMEDOUT", message));
      if (fifo) wakeReader(path, fifo);
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
  return osError("EFBIG", `holds more than ${MAX_INPUT_BYTES / 1024 / 1024} MiB`);
}
