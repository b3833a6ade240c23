import type { Server } from "node:net";
import { UsageError } from "../errors.js";

/** Starts `server` on host:port; a bind failure becomes LISTEN_FAILED with a hint for a busy port. */
export function listenTcp(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(
        new UsageError("LISTEN_FAILED", `cannot listen on ${host}:${port}: ${error.code ?? error.message}`, {
          hint: error.code === "EADDRINUSE" ? "another process uses that port: pick another with --port (0 = any free port)" : undefined,
          cause: error,
        }),
      );
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}
