import { describe, expect, it } from "vitest";
import serveCommand from "../../src/cli/commands/serve.js";
import { agentContainer, containersOf, flagValue, parseManifests, readManifests, validateManifest, type Manifest } from "./kubernetes-manifests.js";

const manifests = readManifests();

describe("deploy/kubernetes manifests", () => {
  it("are the sidecar and the node DaemonSet, with their cert-manager Certificates", () => {
    const kinds = manifests.map((m) => `${m.file}:${m.kind}`);
    expect(kinds).toEqual(expect.arrayContaining(["sidecar.yaml:Deployment", "sidecar.yaml:Certificate", "node-daemonset.yaml:DaemonSet", "node-daemonset.yaml:Service", "node-daemonset.yaml:Certificate"]));
  });

  it.each(manifests.map((m) => [`${m.file} ${m.kind} ${m.metadata.name}`, m] as const))("%s validates against the Kubernetes OpenAPI schema", async (_name, m) => {
    await validateManifest(m);
  });

  it("a broken manifest fails the validation (wrong type, bad enum, missing required field)", async () => {
    const [deployment] = parseManifests(
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  selector: {}\n  template:\n    spec:\n      containers:\n        - name: a\n          ports: [{containerPort: '9912'}]\n",
      "broken.yaml",
    );
    await expect(validateManifest(deployment!)).rejects.toThrow(/containerPort must be integer/);
    const sidecar = structuredClone(manifests.find((m) => m.file === "sidecar.yaml" && m.kind === "Deployment")!) as Manifest & { spec: { template: { spec: { containers?: unknown } } } };
    delete sidecar.spec.template.spec.containers;
    await expect(validateManifest(sidecar)).rejects.toThrow(/must have required property '?containers/);
    const [cert] = parseManifests("apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\nspec: {secretName: s, issuerRef: {name: i}, privateKey: {algorithm: DSA}}\n", "broken.yaml");
    await expect(validateManifest(cert!)).rejects.toThrow(/algorithm must be equal to one of the allowed values/);
  });

  it("the agent's command lines use only serve's own flags (the schemas cannot know them)", () => {
    const known = new Set(serveCommand.options.map((o) => o.name));
    for (const file of ["sidecar.yaml", "node-daemonset.yaml"]) {
      const args = agentContainer(manifests, file).args!;
      expect(args[0]).toBe("serve");
      for (const arg of args.slice(1)) {
        expect(arg, `${file}: ${arg}`).toMatch(/^--[a-z0-9-]+(=.*)?$/);
        expect(known.has(/^--([a-z0-9-]+)/.exec(arg)![1]!), `${file}: ${arg} is not a serve option`).toBe(true);
      }
      // ECS only, over TLS: the IMDS endpoint (no consumer identity) is never exposed in a cluster.
      expect(args).toContain("--ecs");
      expect(args).not.toContain("--imds");
      expect(flagValue(args, "tls-certificate")).toBeDefined();
    }
  });

  it("the app container in the sidecar pod points at the sidecar's port and reads the token file the sidecar reads", () => {
    const agent = agentContainer(manifests, "sidecar.yaml");
    const app = containersOf(manifests.find((m) => m.file === "sidecar.yaml" && m.kind === "Deployment")!).find((c) => c.name === "app")!;
    const env = Object.fromEntries((app.env ?? []).map((e) => [e.name, e.value]));
    const port = flagValue(agent.args!, "port");
    expect(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]).toBe(`https://127.0.0.1:${port}/v1/credentials`);
    const consumer = flagValue(agent.args!, "ecs-consumer")!.split("=")[0];
    expect(env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]).toBe(`${flagValue(agent.args!, "ecs-token-dir")}/${consumer}`);
    // Both containers mount the same volume there.
    const mountOf = (c: typeof app, path: string) => c.volumeMounts!.find((v) => path.startsWith(`${v.mountPath}/`))?.name;
    expect(mountOf(app, env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]!)).toBe(mountOf(agent, env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]!));
    // Every file the agent is given is on a mounted volume.
    for (const flag of ["certificate", "private-key", "tls-certificate", "tls-key", "ecs-token-dir"]) {
      expect(mountOf(agent, `${flagValue(agent.args!, flag)}/`), flag).toBeDefined();
    }
  });

  it("the DaemonSet advertises the Service's name, which its TLS certificate names, and signs with the node's TPM", () => {
    const agent = agentContainer(manifests, "node-daemonset.yaml");
    const service = manifests.find((m) => m.file === "node-daemonset.yaml" && m.kind === "Service")!;
    const cert = manifests.find((m) => m.file === "node-daemonset.yaml" && m.kind === "Certificate")! as Manifest & { spec: { dnsNames: string[] } };
    const host = flagValue(agent.args!, "advertise-host")!;
    expect(host).toBe(`${service.metadata.name}.${service.metadata.namespace}.svc`);
    expect(cert.spec.dnsNames).toContain(host);
    expect(flagValue(agent.args!, "bind")).toBe("$(POD_IP)");
    expect(agent.env).toContainEqual({ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } });
    expect(flagValue(agent.args!, "tpm-device")).toBe("/dev/tpmrm0");
    expect(agent.volumeMounts).toContainEqual({ name: "tpm", mountPath: "/dev/tpmrm0" });
    // Per-pod identity: projected ServiceAccount tokens for the agent's audience, pods of this node only.
    expect(agent.args!.filter((a) => a.startsWith("--ecs-service-account=")).length).toBeGreaterThan(1);
    expect(flagValue(agent.args!, "ecs-node-name")).toBe("$(NODE_NAME)");
    expect(agent.env).toContainEqual({ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } });
    const consumer = manifests.find((m) => m.file === "node-daemonset.yaml" && m.kind === "Deployment")! as Manifest & {
      metadata: { namespace: string };
      spec: { template: { spec: { serviceAccountName: string; volumes: { projected?: { sources: { serviceAccountToken?: { audience: string; path: string } }[] } }[] } } };
    };
    const pod = consumer.spec.template.spec;
    expect(agent.args).toContain(`--ecs-service-account=${consumer.metadata.namespace}/${pod.serviceAccountName}=app-reader`);
    const projected = pod.volumes.flatMap((v) => v.projected?.sources ?? []).find((s) => s.serviceAccountToken)!.serviceAccountToken!;
    expect(projected.audience).toBe(flagValue(agent.args!, "ecs-audience"));
    const env = Object.fromEntries((containersOf(consumer)[0]!.env ?? []).map((e) => [e.name, e.value]));
    expect(env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]).toMatch(new RegExp(`/${projected.path}$`));
    expect(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]).toBe(`https://${host}:${flagValue(agent.args!, "port")}/v1/credentials`);
  });
});
