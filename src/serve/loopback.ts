import { isIP } from "node:net";
import { unbracketed } from "../io/listen-tcp.js";

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms, plus the name `localhost`. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  if (address === "127.0.0.1" || address === "::1" || address === "localhost") return true; // every request: fast path
  const plain = unbracketed(address).replace(/^::ffff:/i, "");
  if (isIP(plain) === 4) return plain.startsWith("127.");
  if (isIP(plain) === 6) return /^(0{0,4}:){7}0{0,3}1$|^::1$/.test(plain);
  return false;
}
