import { close as closeCallback, fstat as fstatCallback, open as openCallback, readFile as readFileCallback, stat as statCallback, type Stats } from "node:fs";

// node:fs's callback API behind promises. The CLI's start-up path uses these instead of node:fs/promises,
// whose first import costs about 2 ms: a cold credential_process call pays it on every `aws` command.

export function readFileAsync(pathOrFd: string | number): Promise<Buffer> {
  return new Promise((resolve, reject) => readFileCallback(pathOrFd, (error, data) => (error ? reject(error) : resolve(data))));
}

export function statAsync(path: string): Promise<Stats> {
  return new Promise((resolve, reject) => statCallback(path, (error, stats) => (error ? reject(error) : resolve(stats))));
}

/**
 * The bytes and fstat of one opened file: what is checked (owner, mode, kind) is what is read, even if the
 * name is pointed elsewhere meanwhile.
 */
export function readOpenedFile(path: string): Promise<{ bytes: Buffer; stats: Stats }> {
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
