// What the credential-process bundle has in place of each module it leaves out (scripts/build.mjs).
import { needFullCli } from "./full-cli-needed.js";

needFullCli();
