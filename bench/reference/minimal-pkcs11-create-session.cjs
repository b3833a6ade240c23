// The least a Node program can do for one cold CreateSession with a key on a PKCS#11 token: pkcs11js (the addon
// the agent uses too), C_Initialize, log in, find the key and its certificate by label, one C_Sign (ECDSA over a
// SHA-256 computed here), node:http POST, print the JSON. No URI parsing, no key proof, no error handling: a
// reference for bench/cold-start.ts only (the part of a SoftHSM credential-process that any Node program pays).
// Usage: node minimal-pkcs11-create-session.cjs MODULE TOKEN_LABEL KEY_LABEL ENDPOINT_URL TRUST_ANCHOR_ARN PROFILE_ARN ROLE_ARN
// (the PIN in $PKCS11_PIN)
const { createHash, X509Certificate } = require("node:crypto");
const { PKCS11 } = require("pkcs11js");

const [modulePath, tokenLabel, keyLabel, endpoint, trustAnchorArn, profileArn, roleArn] = process.argv.slice(2);
const p11 = new PKCS11();
p11.load(modulePath);
p11.C_Initialize();
const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === tokenLabel);
const session = p11.C_OpenSession(slot, 4 /* CKF_SERIAL_SESSION */);
p11.C_Login(session, 1 /* CKU_USER */, process.env.PKCS11_PIN);
const find = (cls) => {
  p11.C_FindObjectsInit(session, [{ type: 0 /* CKA_CLASS */, value: cls }, { type: 3 /* CKA_LABEL */, value: keyLabel }]);
  const [handle] = p11.C_FindObjects(session, 1);
  p11.C_FindObjectsFinal(session);
  return handle;
};
const key = find(3 /* CKO_PRIVATE_KEY */);
const cert = new X509Certificate(p11.C_GetAttributeValue(session, find(1 /* CKO_CERTIFICATE */), [{ type: 0x11 /* CKA_VALUE */ }])[0].value);

const url = new URL(endpoint);
const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, "");
const scope = `${amzDate.slice(0, 8)}/${trustAnchorArn.split(":")[3]}/rolesanywhere/aws4_request`;
const query = `profileArn=${encodeURIComponent(profileArn)}&roleArn=${encodeURIComponent(roleArn)}&trustAnchorArn=${encodeURIComponent(trustAnchorArn)}`;
const body = JSON.stringify({ durationSeconds: 3600 });
const headers = { "content-type": "application/json", host: url.host, "x-amz-date": amzDate, "x-amz-x509": cert.raw.toString("base64") };
const names = Object.keys(headers).sort();
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const canonical = ["POST", "/sessions", query, ...names.map((n) => `${n}:${headers[n]}`), "", names.join(";"), sha256(body)].join("\n");
const digest = createHash("sha256").update(["AWS4-X509-ECDSA-SHA256", amzDate, scope, sha256(canonical)].join("\n")).digest();
p11.C_SignInit(session, { mechanism: 0x1041 /* CKM_ECDSA */ }, key);
const raw = p11.C_Sign(session, digest, Buffer.alloc(132));
p11.C_Logout(session);
p11.C_CloseSession(session);
p11.C_Finalize();
// r||s → DER SEQUENCE { INTEGER r, INTEGER s }
const integer = (b) => {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b[i] & 0x80 ? Buffer.concat([Buffer.of(0), b.subarray(i)]) : b.subarray(i);
  return Buffer.concat([Buffer.of(2, v.length), v]);
};
const half = raw.length / 2;
const rs = Buffer.concat([integer(raw.subarray(0, half)), integer(raw.subarray(half))]);
const signature = Buffer.concat([Buffer.of(0x30, rs.length), rs]).toString("hex");
const authorization = `AWS4-X509-ECDSA-SHA256 Credential=${BigInt(`0x${cert.serialNumber}`)}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`;
const req = require("node:http").request(new URL(`/sessions?${query}`, url), { method: "POST", headers: { ...headers, authorization } }, (res) => {
  const chunks = [];
  res.on("data", (chunk) => chunks.push(chunk));
  res.on("end", () => {
    const c = JSON.parse(Buffer.concat(chunks).toString("utf8")).credentialSet[0].credentials;
    process.stdout.write(JSON.stringify({ Version: 1, AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, SessionToken: c.sessionToken, Expiration: c.expiration }));
    process.exitCode = res.statusCode === 201 ? 0 : 1;
  });
});
req.end(body);
