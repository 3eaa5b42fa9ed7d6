// One container for JSON + binary: `MLPB1\n`, uint32 LE header length, header JSON, then the
// buffers, each 8-byte aligned. Datasets, models and checkpoints all use it: compact, no base64,
// and typed arrays can view the buffers without copying element by element.
const MAGIC = Buffer.from('MLPB1\n');

export interface BundlePart {
  offset: number;
  length: number;
}

export function encodeBundle(header: unknown, buffers: Uint8Array[]): Buffer {
  const parts: BundlePart[] = [];
  let off = 0;
  for (const b of buffers) {
    parts.push({ offset: off, length: b.byteLength });
    off += Math.ceil(b.byteLength / 8) * 8;
  }
  const json = Buffer.from(JSON.stringify({ header, parts }));
  const headLen = MAGIC.length + 4 + json.length;
  const pad = Math.ceil(headLen / 8) * 8 - headLen;
  const out = Buffer.alloc(headLen + pad + off);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(json.length + pad, MAGIC.length);
  json.copy(out, MAGIC.length + 4);
  out.fill(0x20, headLen, headLen + pad); // spaces: still valid JSON when trimmed
  const base = headLen + pad;
  buffers.forEach((b, i) => out.set(b, base + parts[i]!.offset));
  return out;
}

/** The header alone, without copying the buffers (to tell one bundle format from another). */
export function bundleHeader<H>(buf: Buffer): H {
  if (buf.length < MAGIC.length + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Error('not an mlpipe bundle (bad magic)');
  }
  const len = buf.readUInt32LE(MAGIC.length);
  return (JSON.parse(buf.subarray(MAGIC.length + 4, MAGIC.length + 4 + len).toString('utf8')) as { header: H }).header;
}

export function decodeBundle<H>(buf: Buffer): { header: H; buffers: Uint8Array[] } {
  if (buf.length < MAGIC.length + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Error('not an mlpipe bundle (bad magic)');
  }
  const len = buf.readUInt32LE(MAGIC.length);
  const base = MAGIC.length + 4 + len;
  const { header, parts } = JSON.parse(buf.subarray(MAGIC.length + 4, base).toString('utf8')) as {
    header: H;
    parts: BundlePart[];
  };
  // Copy into fresh aligned ArrayBuffers so Float32Array views are always legal.
  const buffers = parts.map((p) => {
    if (base + p.offset + p.length > buf.length) throw new Error('truncated mlpipe bundle');
    return new Uint8Array(buf.subarray(base + p.offset, base + p.offset + p.length));
  });
  return { header, buffers };
}
