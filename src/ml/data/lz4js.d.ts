// lz4js ships no types: the one function mlpipe uses (framed LZ4, as Arrow IPC writes it).
declare module 'lz4js' {
  /** Decompresses LZ4 frame data. */
  export function decompress(data: Uint8Array, maxSize?: number): ArrayLike<number>;
  const lz4: { decompress: typeof decompress };
  export default lz4;
}
