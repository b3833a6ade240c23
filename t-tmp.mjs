import { parseConfig } from "./dist/lib/config/parse-config.js";
import { parsePkcs11Uri } from "./dist/lib/signers/pkcs11/uri.js";
import { parseSubject } from "./dist/lib/provisioning/names/parse-subject.js";
const names = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"];
const tryit = (label, f) => { try { const r = f(); console.log("OK ", label, JSON.stringify(r, (k, v) => typeof v === "bigint" ? String(v) : v)?.slice(0, 150)); } catch (e) { console.log(e.code ? "ERR" : "BUG", label, e.code, e.message.slice(0, 120)); } };
for (const n of names) {
  tryit(`uri path ${n}`, () => parsePkcs11Uri(`pkcs11:${n}=x`));
  tryit(`uri query ${n}`, () => parsePkcs11Uri(`pkcs11:token=a?${n}=x`));
  tryit(`config field ${n}`, () => parseConfig(JSON.stringify({ profiles: { p: { [n]: "x" } } }), "/tmp/c.json", "/root"));
  tryit(`config profile ${n}`, () => parseConfig(`{"profiles": {"${n}": {"region": "us-east-1"}}}`, "/tmp/c.json", "/root"));
  tryit(`config top ${n}`, () => parseConfig(`{"${n}": 1}`, "/tmp/c.json", "/root"));
  tryit(`config agent ${n}`, () => parseConfig(`{"agent": {"${n}": 1}}`, "/tmp/c.json", "/root"));
  tryit(`subject ${n}`, () => parseSubject(`/${n}=x`));
  tryit(`subject2 ${n}`, () => parseSubject(`${n}=x`));
}
