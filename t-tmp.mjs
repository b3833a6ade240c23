import { createPrivateKey, sign, checkPrimeSync } from "node:crypto";
import { readFileSync } from "node:fs";
for (const f of ["rsa2k", "rsa4k", "rsa16k"]) {
  const k = createPrivateKey(readFileSync(`/tmp/h20x/${f}.pem`));
  const jwk = k.export({ format: "jwk" });
  const p = Buffer.from(jwk.p, "base64url");
  let t = performance.now(); sign("sha256", Buffer.from("x"), k); const t1 = performance.now() - t;
  t = performance.now(); for (let i=0;i<3;i++) sign("sha256", Buffer.from("x"), k); const t3 = (performance.now() - t)/3;
  t = performance.now(); checkPrimeSync(p, { checks: 1 }); const tp = performance.now() - t;
  t = performance.now(); checkPrimeSync(p, { checks: 2 }); const tp2 = performance.now() - t;
  console.log(f, t1.toFixed(1), t3.toFixed(1), "prime1", tp.toFixed(2), "prime2", tp2.toFixed(2));
}
