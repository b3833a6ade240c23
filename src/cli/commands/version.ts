import type { CommandSpec } from "../command.js";
import { VERSION } from "../../version.js";

const command: CommandSpec = {
  name: "version",
  describe: "Print the version",
  options: [],
  async run(_args, io) {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  },
};
export default command;
