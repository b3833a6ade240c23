// The least a Node program can do for one cold CreateSession: read a PEM certificate and an EC key, sign the
// request (SigV4-X509) with node:crypto, POST it with node:http (node:https when the endpoint is https:, trusting
// Node's root certificates plus the CA bundle given) and print the JSON. CommonJS (no ESM loader), no option
// parsing, no error handling, no retries, no proxy: a reference for bench/cold-start.ts only, showing the part
// of credential-process's cost that any Node implementation pays.
// Usage: node minimal-create-session.cjs CERT KEY ENDPOINT_URL TRUST_ANCHOR_ARN PROFILE_ARN ROLE_ARN [CA_BUNDLE]
const { createHash, createPrivateKey, sign, X509Certificate } = require("node:crypto");
const { readFileSync } = require("node:fs");

const [certPath, keyPath, endpoint, trustAnchorArn, profileArn, roleArn, caBundle] = process.argv.slice(2);
const url = new URL(endpoint);
const cert = new X509Certificate(readFileSync(certPath));
const key = createPrivateKey(readFileSync(keyPath));
const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, "");
const scope = `${amzDate.slice(0, 8)}/${trustAnchorArn.split(":")[3]}/rolesanywhere/aws4_request`;
const query = `profileArn=${encodeURIComponent(profileArn)}&roleArn=${encodeURIComponent(roleArn)}&trustAnchorArn=${encodeURIComponent(trustAnchorArn)}`;
const body = JSON.stringify({ durationSeconds: 3600 });
const headers = { "content-type": "application/json", host: url.host, "x-amz-date": amzDate, "x-amz-x509": cert.raw.toString("base64") };
const names = Object.keys(headers).sort();
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const canonical = ["POST", "/sessions", query, ...names.map((n) => `${n}:${headers[n]}`), "", names.join(";"), sha256(body)].join("\n");
const signature = sign("sha256", Buffer.from(["AWS4-X509-ECDSA-SHA256", amzDate, scope, sha256(canonical)].join("\n")), key).toString("hex");
const authorization = `AWS4-X509-ECDSA-SHA256 Credential=${BigInt(`0x${cert.serialNumber}`)}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`;
const options = { method: "POST", headers: { ...headers, authorization } };
if (caBundle) options.ca = [...require("node:tls").rootCertificates, readFileSync(caBundle, "latin1")];
const req = require(url.protocol === "https:" ? "node:https" : "node:http").request(new URL(`/sessions?${query}`, url), options, (res) => {
  const chunks = [];
  res.on("data", (chunk) => chunks.push(chunk));
  res.on("end", () => {
    const c = JSON.parse(Buffer.concat(chunks).toString("utf8")).credentialSet[0].credentials;
    process.stdout.write(JSON.stringify({ Version: 1, AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, SessionToken: c.sessionToken, Expiration: c.expiration }));
    process.exitCode = res.statusCode === 201 ? 0 : 1;
  });
});
req.end(body);
