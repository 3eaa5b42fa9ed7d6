// Decompression for the columnar formats data teams write with compression on: Parquet pages in
// any codec pyarrow and Spark use (snappy, gzip, brotli, zstd, lz4, lz4_raw: hyparquet-compressors,
// with Node's zlib for gzip and brotli, which is faster), and Arrow IPC buffers in LZ4 frames
// (lz4js) or zstd (fzstd), the two codecs Arrow defines, registered once in apache-arrow's
// codec registry (which ships none).
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { CompressionType, compressionRegistry } from 'apache-arrow';
import { decompress as zstdDecompress } from 'fzstd';
import type { Compressors } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import lz4 from 'lz4js';

export const PARQUET_COMPRESSORS: Compressors = {
  ...compressors,
  GZIP: (input) => new Uint8Array(gunzipSync(input)),
  BROTLI: (input) => new Uint8Array(brotliDecompressSync(input)),
};

let registered = false;

function aligned(b: Uint8Array): Uint8Array {
  return b.byteOffset % 8 === 0 ? b : b.slice();
}

/** Teach apache-arrow to read LZ4- and zstd-compressed IPC buffers (idempotent). */
export function registerArrowCodecs(): void {
  if (registered) return;
  compressionRegistry.set(CompressionType.LZ4_FRAME, { decode: (data) => Uint8Array.from(lz4.decompress(data)) });
  // fzstd may return a view into a larger buffer; Arrow needs each buffer 8-byte aligned
  compressionRegistry.set(CompressionType.ZSTD, { decode: (data) => aligned(zstdDecompress(data)) });
  registered = true;
}
