import { close as closeCallback, closeSync, constants, fstat as fstatCallback, fstatSync, open as openCallback, openSync, readFile as readFileCallback, readFileSync, statSync, type Stats } from "node:fs";

// Regular files are read synchronously: the first asynchronous fs call starts libuv's thread pool, which costs a
// cold credential_process 1.5–4 ms (node:fs/promises' first import ~2 ms). Anything else (a FIFO from `<(…)`, a
// device) goes through the thread pool, so that a writer that never comes blocks no more than the read itself.

/**
 * The bytes and fstat of one opened file: what is checked (owner, mode, kind) is what is read, even if the
 * name is pointed elsewhere meanwhile.
 */
export async function readOpenedFile(path: string): Promise<{ bytes: Buffer; stats: Stats }> {
  // stat first: opening a FIFO waits for a writer, so only what is a regular file by name is opened here, and
  // without blocking (O_NONBLOCK), in case the name is swapped in between; it then goes the asynchronous way.
  if (!statSync(path).isFile()) return readOpenedFileAsync(path);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    if (stats.isFile()) return { bytes: readFileSync(fd), stats };
  } finally {
    closeSync(fd);
  }
  return readOpenedFileAsync(path);
}

function readOpenedFileAsync(path: string): Promise<{ bytes: Buffer; stats: Stats }> {
  return new Promise((resolve, reject) =>
    openCallback(path, "r", (openError, fd) => {
      if (openError) return reject(openError);
      const done = (error: Error | null, result?: { bytes: Buffer; stats: Stats }) =>
        closeCallback(fd, () => (error ? reject(error) : resolve(result!)));
      fstatCallback(fd, (statError, stats) => {
        if (statError) return done(statError);
        if (stats.isDirectory()) return done(Object.assign(new Error(`${path} is a directory`), { code: "EISDIR" }));
        readFileCallback(fd, (readError, bytes) => (readError ? done(readError) : done(null, { bytes, stats })));
      });
    }),
  );
}
