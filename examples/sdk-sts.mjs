// STS caller identity with a device key on a PKCS#11 token, through IAM Roles Anywhere. Try it with SoftHSM:
// eval "$(bash softhsm/create-test-token.sh "$(mktemp -d)")", then set TRUST_ANCHOR_ARN, PROFILE_ARN, ROLE_ARN, AWS_REGION.
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { fromRolesAnywhere } from "roles-anywhere-agent";

const credentials = fromRolesAnywhere({
  certificate: process.env.PKCS11_EC_KEY_URI, // pkcs11:token=rolesanywhere;object=ec-key — the certificate and its key
  pkcs11: { library: process.env.PKCS11_MODULE, pin: { kind: "env", name: "PKCS11_PIN" } },
  trustAnchorArn: process.env.TRUST_ANCHOR_ARN,
  profileArn: process.env.PROFILE_ARN,
  roleArn: process.env.ROLE_ARN,
});
const sts = new STSClient({ credentials }); // region from AWS_REGION
try {
  console.log((await sts.send(new GetCallerIdentityCommand({}))).Arn);
} finally {
  await credentials.close(); // ends the token session
}
