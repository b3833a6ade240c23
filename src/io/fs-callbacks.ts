import { readFile as readFileCallback, stat as statCallback, type Stats } from "node:fs";

// node:fs's callback API behind promises. The CLI's start-up path uses these instead of node:fs/promises,
// whose first import costs about 2 ms: a cold credential_process call pays it on every `aws` command.

export function readFileAsync(path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => readFileCallback(path, (error, data) => (error ? reject(error) : resolve(data))));
}

export function statAsync(path: string): Promise<Stats> {
  return new Promise((resolve, reject) => statCallback(path, (error, stats) => (error ? reject(error) : resolve(stats))));
}
