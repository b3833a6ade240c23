import { close as closeCallback, closeSync, constants, fstat as fstatCallback, fstatSync, open as openCallback, openSync, readFile as readFileCallback, readFileSync, statSync, type Stats } from "node:fs";

// Reading the small files the CLI starts with (certificate, key, PIN file). Regular files are read with
// synchronous calls: the first asynchronous fs call starts libuv's thread pool, which costs a cold
// credential_process call 1.5–4 ms, and reading a few kilobytes blocks nothing that matters. Anything else
// (a FIFO from `<(…)`, a device) is read through the thread pool, so that a writer that never comes blocks
// no more than the read itself. No node:fs/promises either: its first import costs about 2 ms.

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
