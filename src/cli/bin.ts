#!/usr/bin/env node
import { main } from "./main.js";

const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
// Let stdout drain, then exit even if a library left a handle open (keep-alive socket, token module).
process.stdout.write("", () => process.exit(code));
