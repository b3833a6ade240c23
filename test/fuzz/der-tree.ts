/**
 * A DER tree for tests and the structure-aware fuzzer: decode a structure into nodes, change a node, encode
 * it again with correct lengths. OCTET STRING and BIT STRING contents that are themselves DER (a PKCS#8
 * key inside its OCTET STRING, a public key inside a BIT STRING) are decoded too, so mutations reach them.
 * Test code only: the agent reads DER with src/x509/der.ts.
 */

export interface DerNode {
  tag: number;
  /** Primitive content (absent when `children` is set). */
  value?: Buffer;
  children?: DerNode[];
  /** For OCTET/BIT STRINGs whose content is DER: the BIT STRING's unused-bits byte is kept in `prefix`. */
  encapsulated?: boolean;
  prefix?: Buffer;
}

const OCTET_STRING = 0x04;
const BIT_STRING = 0x03;

/** Decodes one complete element (trailing bytes → undefined). */
export function decodeDer(buf: Buffer, depth = 0): DerNode | undefined {
  const r = readNode(buf, 0, depth);
  return r !== undefined && r.end === buf.length ? r.node : undefined;
}

function readNode(buf: Buffer, offset: number, depth: number): { node: DerNode; end: number } | undefined {
  if (depth > 40 || offset + 2 > buf.length) return undefined;
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) return undefined;
  let length = buf[offset + 1]!;
  let p = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4 || p + n > buf.length) return undefined;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[p + i]!;
    p += n;
  }
  const end = p + length;
  if (end > buf.length) return undefined;
  const content = buf.subarray(p, end);
  if (tag & 0x20) {
    const children: DerNode[] = [];
    let o = 0;
    while (o < content.length) {
      const child = readNode(content, o, depth + 1);
      if (child === undefined) return undefined;
      children.push(child.node);
      o = child.end;
    }
    return { node: { tag, children }, end };
  }
  if (tag === OCTET_STRING && content.length >= 2 && (content[0] === 0x30 || content[0] === 0x04 || content[0] === 0x02)) {
    const inner = decodeDer(content, depth + 1);
    if (inner !== undefined) return { node: { tag, children: [inner], encapsulated: true }, end };
  }
  if (tag === BIT_STRING && content.length >= 3 && content[0] === 0 && content[1] === 0x30) {
    const inner = decodeDer(content.subarray(1), depth + 1);
    if (inner !== undefined) return { node: { tag, children: [inner], encapsulated: true, prefix: content.subarray(0, 1) }, end };
  }
  return { node: { tag, value: Buffer.from(content) }, end };
}

export function encodeDer(node: DerNode): Buffer {
  let content: Buffer;
  if (node.children !== undefined) {
    content = Buffer.concat([...(node.prefix ? [node.prefix] : []), ...node.children.map(encodeDer)]);
  } else {
    content = node.value ?? Buffer.alloc(0);
  }
  return Buffer.concat([Buffer.from([node.tag]), encodeLength(content.length), content]);
}

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Every node, depth first, with its parent (for replacing, dropping or duplicating it). */
export function allNodes(root: DerNode): Array<{ node: DerNode; parent: DerNode | undefined; index: number }> {
  const out: Array<{ node: DerNode; parent: DerNode | undefined; index: number }> = [];
  const walk = (node: DerNode, parent: DerNode | undefined, index: number) => {
    out.push({ node, parent, index });
    node.children?.forEach((c, i) => walk(c, node, i));
  };
  walk(root, undefined, 0);
  return out;
}

export function cloneDer(node: DerNode): DerNode {
  return {
    tag: node.tag,
    ...(node.value ? { value: Buffer.from(node.value) } : {}),
    ...(node.children ? { children: node.children.map(cloneDer) } : {}),
    ...(node.encapsulated ? { encapsulated: true } : {}),
    ...(node.prefix ? { prefix: Buffer.from(node.prefix) } : {}),
  };
}

/** DER INTEGER content for a (possibly negative) bigint, minimal two's complement. */
export function integerBytes(value: bigint): Buffer {
  if (value === 0n) return Buffer.from([0]);
  if (value > 0n) {
    let hex = value.toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    const b = Buffer.from(hex, "hex");
    return b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
  }
  const bytes = Math.ceil(((-value).toString(2).length + 1) / 8);
  const mod = (1n << BigInt(bytes * 8)) + value;
  return Buffer.from(mod.toString(16).padStart(bytes * 2, "0"), "hex");
}

export function integerValue(node: DerNode): bigint {
  const v = node.value ?? Buffer.alloc(0);
  if (v.length === 0) return 0n;
  const unsigned = BigInt(`0x${v.toString("hex")}`);
  return v[0]! & 0x80 ? unsigned - (1n << BigInt(v.length * 8)) : unsigned;
}

/** Builders for hand-made structures. */
export const der = {
  node: (tag: number, value: Buffer): DerNode => ({ tag, value }),
  seq: (...children: DerNode[]): DerNode => ({ tag: 0x30, children }),
  int: (v: bigint | number): DerNode => ({ tag: 0x02, value: integerBytes(BigInt(v)) }),
  oid: (dotted: string): DerNode => ({ tag: 0x06, value: oidBytes(dotted) }),
  octets: (inner: DerNode | Buffer): DerNode =>
    Buffer.isBuffer(inner) ? { tag: 0x04, value: inner } : { tag: 0x04, children: [inner], encapsulated: true },
  explicit: (n: number, inner: DerNode): DerNode => ({ tag: 0xa0 + n, children: [inner] }),
  bits: (value: Buffer): DerNode => ({ tag: 0x03, value: Buffer.concat([Buffer.from([0]), value]) }),
  nul: (): DerNode => ({ tag: 0x05, value: Buffer.alloc(0) }),
};

export function oidBytes(dotted: string): Buffer {
  const arcs = dotted.split(".").map((a) => BigInt(a));
  const out: number[] = [];
  const push = (v: bigint) => {
    const group: number[] = [Number(v & 0x7fn)];
    for (v >>= 7n; v > 0n; v >>= 7n) group.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...group);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return Buffer.from(out);
}
