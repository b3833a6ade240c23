import { existsSync } from "node:fs";
import { join } from "node:path";

// Debian's package (libfaketime) installs it under this architecture's multiarch directory; others under lib64.
const MULTIARCH: Record<string, string> = {
  x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu", arm: "arm-linux-gnueabihf", ia32: "i386-linux-gnu",
  ppc64: "powerpc64le-linux-gnu", s390x: "s390x-linux-gnu", riscv64: "riscv64-linux-gnu", loong64: "loongarch64-linux-gnu",
};

/** libfaketime.so.1 (apt-get install faketime: scripts/install-system-deps.sh), if installed. */
export const LIBFAKETIME = [`/usr/lib/${MULTIARCH[process.arch] ?? "-"}`, "/usr/lib64", "/usr/lib"]
  .map((d) => join(d, "faketime", "libfaketime.so.1")).find((p) => existsSync(p));
export const LIBFAKETIME_MISSING = "libfaketime (apt-get install faketime: scripts/install-system-deps.sh)";
