/**
 * The Kubernetes manifests in deploy/kubernetes/, read and validated against the Kubernetes API's OpenAPI
 * schemas (kubernetes-models, @kubernetes-models/cert-manager). Shared by the unit test that validates them
 * and the native test that runs the sidecar's command line.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

export const MANIFEST_DIR = join(import.meta.dirname, "../../deploy/kubernetes");

export interface Manifest {
  readonly file: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { name: string; namespace?: string };
  readonly [key: string]: unknown;
}

export function readManifests(dir = MANIFEST_DIR): Manifest[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .flatMap((file) => parseManifests(readFileSync(join(dir, file), "utf8"), file));
}

export function parseManifests(text: string, file: string): Manifest[] {
  return parseAllDocuments(text).map((doc, i) => {
    if (doc.errors.length) throw new Error(`${file} document ${i + 1}: ${doc.errors[0]!.message}`);
    return { ...(doc.toJS() as Omit<Manifest, "file">), file } as Manifest;
  });
}

/** apiVersion → the package that holds its models. */
function modelModule(apiVersion: string): string {
  if (apiVersion === "v1") return "kubernetes-models/v1";
  if (apiVersion.startsWith("cert-manager.io/")) return `@kubernetes-models/cert-manager/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

/** Validates one object against its kind's schema; throws with the schema's message when it does not fit. */
export async function validateManifest(m: Manifest): Promise<void> {
  const models = (await import(modelModule(m.apiVersion))) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = models[m.kind];
  if (!Model) throw new Error(`${m.file}: no schema for ${m.apiVersion} ${m.kind}`);
  const { file: _file, ...data } = m;
  try {
    new Model(data).validate();
  } catch (error) {
    throw new Error(`${m.file} ${m.kind} ${m.metadata?.name}: ${(error as Error).message}`);
  }
}

export interface ContainerSpec {
  name: string;
  image?: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  volumeMounts?: { name: string; mountPath: string }[];
}

/** A workload's containers, init (sidecar) containers included. */
export function containersOf(m: Manifest): ContainerSpec[] {
  const spec = (m as unknown as { spec?: { template?: { spec?: { containers?: ContainerSpec[]; initContainers?: ContainerSpec[] } } } }).spec?.template?.spec;
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}

export function agentContainer(manifests: readonly Manifest[], file: string): ContainerSpec {
  const found = manifests.filter((m) => m.file === file).flatMap(containersOf).find((c) => c.args?.[0] === "serve");
  if (!found) throw new Error(`${file}: no container runs serve`);
  return found;
}

/** `--name=value` flags of a command line. */
export function flagValue(args: readonly string[], name: string): string | undefined {
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}
