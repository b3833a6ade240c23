import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          sequence: { groupOrder: 0 },
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "native",
          include: ["native-test/**/*.test.ts"],
          // Native tests run after the unit tests, never beside them.
          sequence: { groupOrder: 1 },
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // SoftHSM token directories and swtpm instances are per file, but swtpm and the AWS CLI are heavy:
          // keep native files from running all at once on a 2-core machine.
          maxWorkers: 2,
        },
      },
    ],
  },
});
