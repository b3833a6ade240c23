import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../update/atomic-write.js";
import type { EcsConsumer } from "./ecs-consumers.js";

/** The environment a consumer needs: systemd `EnvironmentFile=` / `docker --env-file` / `set -a; . file` syntax. */
export function ecsEnvFile(consumer: EcsConsumer, fullUri: string): string {
  return `AWS_CONTAINER_CREDENTIALS_FULL_URI=${fullUri}\nAWS_CONTAINER_AUTHORIZATION_TOKEN=${consumer.token}\n`;
}

/**
 * Writes `<dir>/<consumer>.env` (FULL_URI + token) and `<dir>/<consumer>.token` (the token alone, for
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE), both 0600, in a directory created 0700. Returns the env paths.
 */
export async function writeEcsEnvFiles(dir: string, consumers: readonly EcsConsumer[], fullUri: string): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  for (const consumer of consumers) {
    const envPath = join(dir, `${consumer.name}.env`);
    await writeFileAtomic(join(dir, `${consumer.name}.token`), consumer.token);
    await writeFileAtomic(envPath, ecsEnvFile(consumer, fullUri));
    written.push(envPath);
  }
  return written;
}
