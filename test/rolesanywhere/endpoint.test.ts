import { afterAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { main } from "../../src/cli/main.js";
import { printProcessWarnings } from "../../src/cli/process-warnings.js";
import { isIP } from "node:net";
import { ipFamily, isLoopback, parseEndpointUrl, regionalEndpointUrl, resolveEndpoint } from "../../src/rolesanywhere/endpoint.js";
import { PARTITIONS, partitionOf, type Partition } from "../../src/rolesanywhere/partitions.js";
import { resolveSessionRegion, splitFipsPseudoRegion } from "../../src/rolesanywhere/region.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { PROFILE, ROLE, TRUST_ANCHOR, startEndpoint, startProxy, successBody } from "./support.js";
import { thrown } from "../helpers/agent-error.js";

const none = { env: {} };

describe("ipFamily", () => {
  // What it answers, net.isIP answers: it stands in for isIP on the cold path (endpoint.ts says why).
  it.each([
    "127.0.0.1", "0.0.0.0", "255.255.255.255", "10.1.2.3", "192.168.100.200", "256.0.0.1", "1.2.3.256", "01.2.3.4",
    "1.2.3.04", "1.2.3.00", "1.2.3", "1.2.3.4.5", "1.2.3.4.", ".1.2.3.4", "1..2.3", "", "127.1", "0x7f.0.0.1",
    "1.2.3.4\n", " 1.2.3.4", "1.2.3.4 ", "+1.2.3.4", "1.2.3.-4", "1e2.2.3.4", "\uff11.2.3.4", "1234.2.3.4",
    "::1", "::", "::ffff:127.0.0.1", "::ffff:7f00:1", "fe80::1%eth0", "2001:db8::8a2e:370:7334", "1:2:3:4:5:6:7:8:9",
    "a:b", ":", "[::1]", "localhost", "rolesanywhere.us-east-1.amazonaws.com", "x.localhost", "127.0.0.1:443",
  ])("%j", (host) => {
    expect(ipFamily(host)).toBe(isIP(host));
  });

  it("keeps isLoopback's answers", () => {
    for (const [host, loopback] of [["127.0.0.1", true], ["127.255.0.9.", true], ["128.0.0.1", false], ["::1", true],
      ["::ffff:127.0.0.1", true], ["::2", false], ["localhost.", true], ["127.example.com", false], ["0127.0.0.1", false],
      ["::ffff:127.example.com", false]] as const) { // no address (isIP: 0), so not an IPv4-mapped loopback
      expect(isLoopback(host), host).toBe(loopback);
    }
  });
});

describe("partitions", () => {
  it.each([
    ["us-east-1", "aws", "https://rolesanywhere.us-east-1.amazonaws.com"],
    ["eu-west-3", "aws", "https://rolesanywhere.eu-west-3.amazonaws.com"],
    ["il-central-1", "aws", "https://rolesanywhere.il-central-1.amazonaws.com"],
    ["aws-global", "aws", "https://rolesanywhere.aws-global.amazonaws.com"],
    ["cn-north-1", "aws-cn", "https://rolesanywhere.cn-north-1.amazonaws.com.cn"],
    ["cn-northwest-1", "aws-cn", "https://rolesanywhere.cn-northwest-1.amazonaws.com.cn"],
    ["cn-south-7", "aws-cn", "https://rolesanywhere.cn-south-7.amazonaws.com.cn"],
    ["aws-cn-global", "aws-cn", "https://rolesanywhere.aws-cn-global.amazonaws.com.cn"],
    ["us-gov-west-1", "aws-us-gov", "https://rolesanywhere.us-gov-west-1.amazonaws.com"],
    ["aws-us-gov-global", "aws-us-gov", "https://rolesanywhere.aws-us-gov-global.amazonaws.com"],
    ["us-iso-east-1", "aws-iso", "https://rolesanywhere.us-iso-east-1.c2s.ic.gov"],
    ["aws-iso-global", "aws-iso", "https://rolesanywhere.aws-iso-global.c2s.ic.gov"],
    ["us-isob-east-1", "aws-iso-b", "https://rolesanywhere.us-isob-east-1.sc2s.sgov.gov"],
    ["aws-iso-b-global", "aws-iso-b", "https://rolesanywhere.aws-iso-b-global.sc2s.sgov.gov"],
    ["eu-isoe-west-1", "aws-iso-e", "https://rolesanywhere.eu-isoe-west-1.cloud.adc-e.uk"],
    ["us-isof-south-1", "aws-iso-f", "https://rolesanywhere.us-isof-south-1.csp.hci.ic.gov"],
    ["mx-central-1", "aws", "https://rolesanywhere.mx-central-1.amazonaws.com"],
    ["xx-nowhere-9", "aws", "https://rolesanywhere.xx-nowhere-9.amazonaws.com"],
  ])("%s is in %s → %s", (region, partition, url) => {
    expect(partitionOf(region).name).toBe(partition);
    const endpoint = resolveEndpoint({ region }, none);
    expect(endpoint.baseUrl).toBe(url);
    expect(endpoint).toMatchObject({ protocol: "https:", port: 443, pathPrefix: "", source: "partition" });
  });

  it.each([
    ["us-east-1", "https://rolesanywhere-fips.us-east-1.amazonaws.com"],
    ["cn-north-1", "https://rolesanywhere-fips.cn-north-1.amazonaws.com.cn"],
    ["us-gov-east-1", "https://rolesanywhere-fips.us-gov-east-1.amazonaws.com"],
    ["us-iso-west-1", "https://rolesanywhere-fips.us-iso-west-1.c2s.ic.gov"],
    ["us-isob-east-1", "https://rolesanywhere-fips.us-isob-east-1.sc2s.sgov.gov"],
    ["eu-isoe-west-1", "https://rolesanywhere-fips.eu-isoe-west-1.cloud.adc-e.uk"],
    ["us-isof-east-1", "https://rolesanywhere-fips.us-isof-east-1.csp.hci.ic.gov"],
  ])("FIPS in %s → %s", (region, url) => {
    expect(resolveEndpoint({ region }, { useFipsEndpoint: true, env: {} }).baseUrl).toBe(url);
    expect(resolveEndpoint({ region }, { env: { AWS_USE_FIPS_ENDPOINT: "TRUE" } }).baseUrl).toBe(url);
    expect(resolveEndpoint({ region, fipsFromName: true }, none).baseUrl).toBe(url);
  });

  it("an explicit useFipsEndpoint=false beats AWS_USE_FIPS_ENDPOINT", () => {
    expect(resolveEndpoint({ region: "us-east-1" }, { useFipsEndpoint: false, env: { AWS_USE_FIPS_ENDPOINT: "true" } }).baseUrl).toBe(
      "https://rolesanywhere.us-east-1.amazonaws.com",
    );
  });

  it("dual-stack host names, and partitions without dual-stack", () => {
    const env = { AWS_USE_DUALSTACK_ENDPOINT: "true" };
    expect(resolveEndpoint({ region: "us-east-1" }, { env }).baseUrl).toBe("https://rolesanywhere.us-east-1.api.aws");
    expect(resolveEndpoint({ region: "cn-north-1" }, { env }).baseUrl).toBe("https://rolesanywhere.cn-north-1.api.amazonwebservices.com.cn");
    expect(resolveEndpoint({ region: "us-west-2" }, { env, useFipsEndpoint: true }).baseUrl).toBe("https://rolesanywhere-fips.us-west-2.api.aws");
    expect(thrown(() => resolveEndpoint({ region: "us-iso-east-1" }, { env })).message).toBe(
      "DualStack is enabled but this partition does not support DualStack",
    );
    expect(thrown(() => resolveEndpoint({ region: "us-iso-east-1" }, { env, useFipsEndpoint: true })).message).toBe(
      "FIPS and DualStack are enabled, but this partition does not support one or both",
    );
  });

  it("a partition without FIPS refuses FIPS with the SDK's message", () => {
    const noFips: Partition = { ...PARTITIONS[0]!, name: "test-nofips", regions: ["zz-test-1"], supportsFips: false };
    const e = thrown(() => regionalEndpointUrl(noFips, "zz-test-1", { fips: true, dualStack: false }));
    expect(e).toMatchObject({ code: "ENDPOINT_INVALID", message: "FIPS is enabled but this partition does not support FIPS" });
    expect(e.hint).toContain("test-nofips");
    expect(thrown(() => resolveEndpoint({ region: "zz-test-1" }, { useFipsEndpoint: true, env: {} }, [noFips])).code).toBe("ENDPOINT_INVALID");
    expect(regionalEndpointUrl(noFips, "zz-test-1", { fips: false, dualStack: false })).toBe("https://rolesanywhere.zz-test-1.amazonaws.com");
  });

  it("rejects AWS_USE_FIPS_ENDPOINT values other than true/false", () => {
    const e = thrown(() => resolveEndpoint({ region: "us-east-1" }, { env: { AWS_USE_FIPS_ENDPOINT: "yes" } }));
    expect(e.code).toBe("ENDPOINT_INVALID");
    expect(e.message).toContain("AWS_USE_FIPS_ENDPOINT must be true or false");
  });
});

describe("custom endpoints", () => {
  const env = {
    AWS_ENDPOINT_URL_ROLESANYWHERE: "https://service-specific.example:8443",
    AWS_ENDPOINT_URL: "https://global.example",
  };

  it("--endpoint beats AWS_ENDPOINT_URL_ROLESANYWHERE (the Go helper's quirk is fixed)", () => {
    const e = resolveEndpoint({ region: "us-east-1" }, { endpoint: "http://127.0.0.1:9000", env });
    expect(e).toMatchObject({ baseUrl: "http://127.0.0.1:9000", host: "127.0.0.1:9000", source: "option" });
  });

  it("AWS_ENDPOINT_URL_ROLESANYWHERE beats AWS_ENDPOINT_URL, which beats the partition", () => {
    expect(resolveEndpoint({ region: "us-east-1" }, { env })).toMatchObject({
      baseUrl: "https://service-specific.example:8443",
      source: "AWS_ENDPOINT_URL_ROLESANYWHERE",
    });
    expect(resolveEndpoint({ region: "us-east-1" }, { env: { AWS_ENDPOINT_URL: "https://global.example/" } })).toMatchObject({
      baseUrl: "https://global.example",
      source: "AWS_ENDPOINT_URL",
    });
  });

  it("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true ignores the variables but not --endpoint", () => {
    const ignoring = { ...env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "true" };
    expect(resolveEndpoint({ region: "eu-west-1" }, { env: ignoring })).toMatchObject({
      baseUrl: "https://rolesanywhere.eu-west-1.amazonaws.com",
      source: "partition",
    });
    expect(resolveEndpoint({ region: "eu-west-1" }, { endpoint: "https://vpce.example", env: ignoring }).source).toBe("option");
  });

  it("FIPS with a custom endpoint is the Go helper's error, whichever way FIPS was asked for", () => {
    const message = "failed to resolve service endpoint, endpoint rule error, Invalid Configuration: FIPS and custom endpoint are not supported";
    expect(thrown(() => resolveEndpoint({ region: "us-east-1" }, { endpoint: "https://x.example", useFipsEndpoint: true, env: {} })).message).toBe(message);
    expect(thrown(() => resolveEndpoint({ region: "us-east-1" }, { env: { ...env, AWS_USE_FIPS_ENDPOINT: "true" } }))).toMatchObject({
      code: "ENDPOINT_INVALID",
      message,
    });
    expect(thrown(() => resolveEndpoint({ region: "us-east-1", fipsFromName: true }, { endpoint: "https://x.example", env: {} })).message).toBe(message);
    expect(thrown(() => resolveEndpoint({ region: "us-east-1" }, { endpoint: "https://x.example", env: { AWS_USE_DUALSTACK_ENDPOINT: "true" } })).message).toBe(
      "failed to resolve service endpoint, endpoint rule error, Invalid Configuration: Dualstack and custom endpoint are not supported",
    );
  });

  it("keeps the path prefix and the port in Host only when it is not the default", () => {
    expect(parseEndpointUrl("https://gw.example/roles/anywhere/")).toMatchObject({ pathPrefix: "/roles/anywhere", host: "gw.example", port: 443 });
    expect(parseEndpointUrl("https://gw.example:443")).toMatchObject({ host: "gw.example", port: 443 });
    expect(parseEndpointUrl("http://gw.example:80/")).toMatchObject({ host: "gw.example", port: 80, pathPrefix: "" });
    expect(parseEndpointUrl("http://gw.example:8080")).toMatchObject({ host: "gw.example:8080", port: 8080, protocol: "http:" });
    expect(parseEndpointUrl("https://[::1]:8443/p/")).toMatchObject({ hostname: "::1", host: "[::1]:8443", pathPrefix: "/p", baseUrl: "https://[::1]:8443/p" });
  });

  it.each([
    ["rolesanywhere.us-east-1.amazonaws.com", "the scheme is missing"],
    ["127.0.0.1:8080", "the scheme is missing"],
    ["ftp://files.example", "scheme 'ftp' is not supported"],
    ["unix:/run/x.sock", "scheme 'unix' is not supported"],
    ["https://", "not a valid URL"],
    ["http://gw.example/?a=1", "must not have a query string"],
    ["http://gw.example/#frag", "must not have a fragment"],
    ["http://exa mple.com", "not a valid URL"],
  ])("rejects %s (%s)", (url, why) => {
    const e = thrown(() => parseEndpointUrl(url));
    expect(e.code).toBe("ENDPOINT_INVALID");
    expect(e.message).toContain(why);
    expect(e.message).toContain("(from the endpoint option)");
    expect(e.hint).toContain("https://");
  });

  it("a URL that is not a string (plain JavaScript) is a USAGE error, not a TypeError", () => {
    for (const url of [5, null, {}]) {
      const message = "parseEndpointUrl: text must be a string";
      expect(thrown(() => parseEndpointUrl(url as never))).toMatchObject({ code: "USAGE", message });
    }
  });

  it("never echoes a password from the endpoint URL", () => {
    const e = thrown(() => parseEndpointUrl("https://user:hunter2@gw.example"));
    expect(e.message).toContain("must not contain a user name or password");
    expect(e.message).not.toContain("hunter2");
    expect(e.message).toContain("https://***@gw.example");
  });

  it("never echoes a password holding @, / ? # or written without the two slashes", () => {
    for (const url of ["https://u:hun@ter2@gw.example", "https://u:hun/ter2@gw.example", "https://u:hun?ter2@gw.example",
      "https://u:hun#ter2@gw.example", "https:/u:hunter2@gw.example", "http:u:hunter2@gw.example", "http:\\\\u:hunter2@gw.example"]) {
      const e = thrown(() => parseEndpointUrl(url));
      expect(e.message).toMatch(/^invalid endpoint '[a-z]+:[/\\]*\*\*\*@gw\.example' \(from the endpoint option\): /);
      expect(e.message).not.toContain("ter2");
    }
  });

  it("names the variable a bad URL came from", () => {
    const e = thrown(() => resolveEndpoint({ region: "us-east-1" }, { env: { AWS_ENDPOINT_URL_ROLESANYWHERE: "gw.example" } }));
    expect(e.message).toContain("from AWS_ENDPOINT_URL_ROLESANYWHERE");
  });
});

describe("region", () => {
  it("is the trust anchor's unless given", () => {
    expect(resolveSessionRegion({ trustAnchorArn: TRUST_ANCHOR, profileArn: PROFILE })).toEqual({ region: "us-east-1", fipsFromName: false });
    expect(resolveSessionRegion({ trustAnchorArn: TRUST_ANCHOR, profileArn: PROFILE, region: "eu-west-1" }).region).toBe("eu-west-1");
  });

  it("trust anchor and profile must be in the same region", () => {
    const e = thrown(() => resolveSessionRegion({ trustAnchorArn: TRUST_ANCHOR, profileArn: PROFILE.replace("us-east-1", "eu-west-1") }));
    expect(e).toMatchObject({ code: "REGION_MISMATCH", message: "trust anchor and profile regions don't match" });
    expect(e.hint).toContain("us-east-1");
    expect(e.hint).toContain("eu-west-1");
  });

  it.each([
    ["fips-us-gov-west-1", "us-gov-west-1"],
    ["us-gov-west-1-fips", "us-gov-west-1"],
    ["us-fips-east-1", "us-east-1"],
    ["fips-aws-global", "aws-global"],
  ])("FIPS pseudo-region %s signs and resolves as %s", (pseudo, region) => {
    expect(splitFipsPseudoRegion(pseudo)).toEqual({ region, fipsFromName: true });
    const where = resolveSessionRegion({ trustAnchorArn: TRUST_ANCHOR, profileArn: PROFILE, region: pseudo });
    expect(where).toEqual({ region, fipsFromName: true });
    expect(resolveEndpoint(where, none).hostname).toBe(`rolesanywhere-fips.${region}.${partitionOf(region).dnsSuffix}`);
  });

  it("names bad ARNs and bad region names", () => {
    expect(thrown(() => resolveSessionRegion({ trustAnchorArn: "arn:aws:rolesanywhere", profileArn: PROFILE }))).toMatchObject({ code: "ARN_INVALID" });
    expect(thrown(() => resolveSessionRegion({ trustAnchorArn: TRUST_ANCHOR, profileArn: "nope" })).message).toContain("profile ARN 'nope'");
    expect(thrown(() => resolveSessionRegion({ trustAnchorArn: TRUST_ANCHOR, profileArn: PROFILE, region: "US East" }))).toMatchObject({
      code: "ENDPOINT_INVALID",
      message: "'US East' is not a region name",
    });
    // A region becomes a DNS label of the endpoint (63 characters at most); a longer one is not echoed back.
    const long = thrown(() => resolveSessionRegion({ trustAnchorArn: TRUST_ANCHOR, profileArn: PROFILE, region: "a".repeat(100_000) }));
    expect(long).toMatchObject({ code: "ENDPOINT_INVALID", message: "a name of 100000 characters is not a region name" });
    expect(resolveSessionRegion({ trustAnchorArn: TRUST_ANCHOR, profileArn: PROFILE, region: "a".repeat(63) }).region).toHaveLength(63);
  });
});

describe("a plain-http endpoint on a host that is not loopback", () => {
  const { dir, cleanup } = makeTempDir("raa-plain-http-");
  afterAll(cleanup);
  const saved = process.listeners("warning");
  afterAll(() => {
    process.removeAllListeners("warning");
    for (const listener of saved) process.on("warning", listener);
  });

  it("warns once per process, naming the host; loopback stays silent", async () => {
    const leaf = issueLeaf(createCa(dir, { name: "ca" }), dir, { name: "leaf" });
    const server = await startEndpoint([{ status: 201, body: successBody() }]);
    const proxy = await startProxy(); // forwards http://10.0.0.5:port/… to 127.0.0.1:port
    let stderr = "";
    let stdout = "";
    const write = (to: "out" | "err") => (t: string | Uint8Array) => ((to === "out" ? (stdout += String(t)) : (stderr += String(t))), true);
    const io = { stdout: { write: write("out") }, stderr: { write: write("err") } };
    printProcessWarnings(io.stderr);
    const args = ["credential-process", "--certificate", leaf.certPath, "--private-key", leaf.keyPath,
      "--trust-anchor-arn", TRUST_ANCHOR, "--profile-arn", PROFILE, "--role-arn", ROLE];
    const env = { XDG_RUNTIME_DIR: join(dir, "none"), CI: "true", HTTP_PROXY: proxy.url };
    const run = async (extra: string[], more: NodeJS.ProcessEnv = {}) => {
      stderr = stdout = "";
      const code = await main([...args, ...extra], { ...io, env: { ...env, ...more } });
      await new Promise((r) => setImmediate(r)); // process warnings are emitted on the next tick
      return code;
    };
    try {
      expect(await run(["--endpoint", server.url])).toBe(0);
      expect(await run(["--endpoint", `http://localhost:${server.port}`])).toBe(0);
      expect(stderr).toBe("");
      expect(await run([], { AWS_ENDPOINT_URL: `http://10.0.0.5:${server.port}` })).toBe(0);
      expect(stdout).toContain("SecretAccessKey");
      expect(stderr).toBe(
        `roles-anywhere-agent: warning: the endpoint http://10.0.0.5:${server.port} (from AWS_ENDPOINT_URL) is plain http ` +
          "to 10.0.0.5, which is not loopback: the temporary credentials travel unencrypted; use https://\n",
      );
      expect(await run(["--endpoint", `http://10.0.0.5:${server.port}`])).toBe(0); // a daemon's next refresh
      expect(stderr).toBe("");
    } finally {
      await proxy.close();
      await server.close();
    }
  });
});
