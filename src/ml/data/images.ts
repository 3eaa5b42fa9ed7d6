// The imageFolder source: `<path>/<class>/<file>.png|.jpg|.jpeg` on disk or under an s3:// prefix
// (the artifact store's endpoint and credentials), decoded natively by tfjs-node's
// `tf.node.decodeImage` (TensorFlow's own PNG and JPEG decoders). Classes are the subfolders'
// names in sorted (code point) order and the label is a class's index in that order, so the same
// tree always gives the same labels; the names are kept as the dataset's `classes`. Each image
// must have the declared size (or is scaled to it with `resize`) and channel count; a file that
// does not decode or does not fit is an error naming its path. Hidden entries and files with
// other extensions are skipped.
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveInside } from '../../artifacts/paths.ts';
import { createS3Client, endpointLabel } from '../../artifacts/s3-client.ts';
import { getSmall, listKeys } from '../../artifacts/s3-ops.ts';
import type { ImageFolderSource } from '../../spec/types.gen.ts';
import { getTf, type Tf } from '../runtime/backend.ts';
import { DataError } from './data-error.ts';
import { permutation } from './rng.ts';
import { column, isNumeric, type Dataset } from './dataset.ts';

const IMAGE = /\.(png|jpe?g)$/i;
export const DEFAULT_MAX_FILES = 1_000_000;
/** A chunk of decoded images holds about this much (float32 pixels). */
export const CHUNK_BYTES = 64 * 1024 ** 2;
/** The most one decoded image may take (float32 pixels). */
export const MAX_IMAGE_BYTES = 256 * 1024 ** 2;
/** The decoded pixels (float32) are held in memory: refuse a folder that needs more. */
export const MAX_PIXEL_BYTES = 4 * 1024 ** 3;

type DecodeImage = (content: Uint8Array, channels?: number) => ReturnType<Tf['zeros']>;

function decoder(where: string): DecodeImage {
  const node = (getTf() as unknown as { node?: { decodeImage: DecodeImage } }).node;
  if (!node) {
    throw new DataError(
      `${where}: an imageFolder source needs the native TensorFlow backend (tfjs-node) to decode images; run \`npm run setup\``,
    );
  }
  return node.decodeImage;
}

/** One image of the folder: its name in messages, its class index, how to read its bytes. */
export interface ImageFile {
  rel: string;
  label: number;
  read(): Promise<Uint8Array>;
}

export interface ImageListing {
  files: ImageFile[];
  classes: string[];
  /** Where the folder is, for messages: its `path` or `url`. */
  name: string;
  close(): void;
}

/** Class name → its files' names, sorted, from whichever store holds the folder. */
function toListing(
  byClass: Map<string, string[]>,
  name: string,
  where: string,
  maxFiles: number,
  read: (cls: string, f: string) => Promise<Uint8Array>,
) {
  const classes = [...byClass.keys()].sort();
  if (classes.length === 0) {
    throw new DataError(`${where}: ${name} has no class subfolders; put each class's images in ${name}/<class name>/`);
  }
  const files: ImageFile[] = [];
  for (const [label, cls] of classes.entries()) {
    const names = byClass
      .get(cls)!
      .filter((f) => !f.startsWith('.') && IMAGE.test(f))
      .sort();
    if (names.length === 0) {
      throw new DataError(`${where}: ${name}/${cls} holds no .png, .jpg or .jpeg files; add the class's images or remove the folder`);
    }
    for (const f of names) files.push({ rel: `${name}/${cls}/${f}`, label, read: () => read(cls, f) });
    if (files.length > maxFiles) throw new DataError(`${where}: ${name} holds more than ${maxFiles} images; raise source.maxFiles`);
  }
  return { files, classes };
}

async function listLocal(src: ImageFolderSource, baseDir: string | undefined, where: string, maxFiles: number): Promise<ImageListing> {
  const path = src.path!;
  if (!baseDir) throw new DataError(`${where}: no base directory was given for path ${JSON.stringify(path)}`);
  let root: string;
  try {
    root = resolveInside(baseDir, path);
  } catch (e) {
    throw new DataError(`${where}: ${(e as Error).message}`);
  }
  if (!(await stat(root).catch(() => null))?.isDirectory()) {
    throw new DataError(`${where}: ${path} is not a folder (looked in ${baseDir}); fix source.path`);
  }
  const byClass = new Map<string, string[]>();
  for (const e of await readdir(root, { withFileTypes: true })) {
    if (e.isDirectory() && !e.name.startsWith('.')) byClass.set(e.name, await readdir(join(root, e.name)));
  }
  const l = toListing(byClass, path, where, maxFiles, (cls, f) => readFile(join(root, cls, f)));
  return { ...l, name: path, close: () => {} };
}

/** `s3://bucket/prefix/<class>/<file>`: objects one level below a class are the images. */
async function listObjects(url: string, where: string, maxFiles: number, env: NodeJS.ProcessEnv): Promise<ImageListing> {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.*)$/.exec(url);
  if (!m) throw new DataError(`${where}: ${JSON.stringify(url)} is not s3://<bucket>/<prefix>/; fix source.url`);
  const bucket = m[1]!;
  const prefix = m[2]!.replace(/\/*$/, '/').replace(/^\/$/, '');
  const name = url.replace(/\/+$/, '');
  const ctx = { client: createS3Client(env), bucket, endpoint: endpointLabel(env) };
  const byClass = new Map<string, string[]>();
  try {
    for (const key of await listKeys(ctx, prefix)) {
      const rest = key.slice(prefix.length).split('/');
      if (rest.length !== 2 || !rest[0] || rest[0].startsWith('.')) continue;
      const list = byClass.get(rest[0]) ?? [];
      list.push(rest[1]!);
      byClass.set(rest[0], list);
    }
    const l = toListing(byClass, name, where, maxFiles, async (cls, f) => {
      const body = await getSmall(ctx, `${prefix}${cls}/${f}`);
      if (!body) throw new DataError(`${where}: ${name}/${cls}/${f} disappeared while it was read; run again`);
      return body;
    });
    return { ...l, name, close: () => ctx.client.destroy() };
  } catch (e) {
    ctx.client.destroy();
    if (e instanceof DataError) throw e;
    throw new Error(`${where}: listing ${url} failed: ${(e as Error).message}`, { cause: e }); // retryable
  }
}

/** The folder's images and classes, from `path` (on disk) or `url` (s3://). */
export async function listImageFolder(
  src: ImageFolderSource,
  baseDir: string | undefined,
  where: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ImageListing> {
  if ((src.path === undefined) === (src.url === undefined)) {
    throw new DataError(`${where}: an imageFolder source needs exactly one of path and url`);
  }
  const maxFiles = src.maxFiles ?? DEFAULT_MAX_FILES;
  return src.url !== undefined ? listObjects(src.url, where, maxFiles, env) : listLocal(src, baseDir, where, maxFiles);
}

/**
 * Images a chunk may hold: a chunk stays near CHUNK_BYTES of pixels. Refuses a declared size
 * whose one image would exceed MAX_IMAGE_BYTES (a typo such as 20000 for 200, most likely).
 */
export function imageChunkRows(src: ImageFolderSource, chunkRows: number, where = 'imageFolder'): number {
  const [h, w] = src.size as [number, number];
  const ch = src.channels ?? 1;
  const bytes = h * w * ch * 4;
  if (bytes > MAX_IMAGE_BYTES) {
    throw new DataError(
      `${where}: one image of ${h}x${w}x${ch} needs ${(bytes / 1024 ** 2).toFixed(0)} MiB as float32, over the ` +
        `${MAX_IMAGE_BYTES / 1024 ** 2} MiB an image may take; declare a smaller size (with resize: true to scale the files)`,
    );
  }
  return Math.max(1, Math.min(chunkRows, Math.floor(CHUNK_BYTES / bytes)));
}

/** Decode `files` (positions `at` in the listing) into one dataset: `image` and `label`. */
async function decodeImages(
  src: ImageFolderSource,
  listing: ImageListing,
  at: number[],
  where: string,
  o: { signal?: AbortSignal; onDecoded?: (n: number) => void },
): Promise<Dataset> {
  const [h, w] = src.size as [number, number];
  const ch = src.channels ?? 1;
  const decode = decoder(where);
  const tf = getTf();
  const px = h * w * ch;
  const images = new Float32Array(at.length * px);
  const labels = new Float32Array(at.length);
  for (const [i, fi] of at.entries()) {
    if (i % 500 === 0) {
      o.signal?.throwIfAborted();
      o.onDecoded?.(i);
    }
    const f = listing.files[fi]!;
    const bytes = await f.read();
    const pixels = tf.tidy(() => {
      let img: ReturnType<DecodeImage>;
      try {
        img = decode(bytes, 0);
      } catch (e) {
        const why = ((e as Error).message.split('\n')[0] ?? '').slice(0, 200);
        throw new DataError(`${where}: ${f.rel} is not a readable PNG or JPEG (${why}); replace or remove the file`);
      }
      const [ih, iw, ic] = img.shape as number[];
      if (img.rank !== 3) throw new DataError(`${where}: ${f.rel} is an animation, not one image; replace or remove the file`);
      if (ic !== ch) {
        throw new DataError(
          `${where}: ${f.rel} has ${ic} channel${ic === 1 ? '' : 's'}, the source declares channels: ${ch}; ` +
            'convert the image or change channels',
        );
      }
      let t = img.toFloat();
      if (ih !== h || iw !== w) {
        if (!src.resize) {
          throw new DataError(
            `${where}: ${f.rel} is ${ih}x${iw} (height x width), the source declares size [${h}, ${w}]; set ` +
              'resize: true to scale it, or fix the image',
          );
        }
        t = tf.image.resizeBilinear(t as Parameters<Tf['image']['resizeBilinear']>[0], [h, w]);
      }
      return t.div(255).dataSync() as Float32Array;
    });
    images.set(pixels, i * px);
    labels[i] = f.label;
  }
  return {
    rows: at.length,
    label: 'label',
    classes: listing.classes,
    columns: [
      { name: 'image', type: 'number', shape: [h, w, ch], data: images },
      { name: 'label', type: 'integer', shape: [], data: labels },
    ],
    // each row named by its image's path in messages (expectations, a bad value in training)
    origin: { file: listing.name, unit: 'file', at: Uint32Array.from(at, (_, i) => i), files: at.map((fi) => listing.files[fi]!.rel) },
  };
}

/**
 * The folder in memory, in class-then-name order (one chunk: what a folder that fits in a chunk
 * gives). Refuses a folder whose pixels would not fit MAX_PIXEL_BYTES.
 */
export async function loadImageFolder(
  src: ImageFolderSource,
  baseDir: string | undefined,
  where: string,
  o: { signal?: AbortSignal; onPhase?: (message: string) => void; listing?: ImageListing } = {},
): Promise<Dataset> {
  const listing = o.listing ?? (await listImageFolder(src, baseDir, where));
  try {
    const [h, w] = src.size as [number, number];
    const ch = src.channels ?? 1;
    const need = listing.files.length * h * w * ch * 4;
    if (need > MAX_PIXEL_BYTES) {
      throw new DataError(
        `${where}: ${listing.files.length} images of ${h}x${w}x${ch} need ${(need / 1024 ** 3).toFixed(1)} GiB as ` +
          `float32, over the ${MAX_PIXEL_BYTES / 1024 ** 3} GiB ` +
          'an imageFolder dataset may hold in memory; declare a smaller size with resize: true, or use fewer images',
      );
    }
    const all = listing.files.map((_, i) => i);
    return await decodeImages(src, listing, all, where, {
      signal: o.signal,
      onDecoded: (n) => o.onPhase?.(`decoding images: ${n} of ${all.length}`),
    });
  } finally {
    if (!o.listing) listing.close();
  }
}

/**
 * The folder as chunks of `rows` images, for folders larger than memory. The files go in a
 * seeded shuffled order (classes interleaved): sorted by class, each chunk would hold one class,
 * and training, which shuffles within a few chunks at a time, would see one class at a time.
 */
export async function* imageFolderChunks(
  src: ImageFolderSource,
  listing: ImageListing,
  rows: number,
  where: string,
  o: { signal?: AbortSignal; onPhase?: (message: string) => void; seed?: number } = {},
): AsyncGenerator<Dataset> {
  const order = Array.from(permutation(listing.files.length, o.seed ?? 0));
  const chunks = Math.ceil(order.length / rows);
  for (let c = 0; c < chunks; c++) {
    const at = order.slice(c * rows, (c + 1) * rows);
    o.onPhase?.(`decoding images: chunk ${c + 1} of ${chunks} (${c * rows} of ${order.length} images)`);
    yield await decodeImages(src, listing, at, where, { signal: o.signal });
  }
}

/**
 * The reverse: an image dataset (`image` [h, w, c] in [0, 1], integer `label`) as a class-per-folder
 * PNG tree under `dir`: `<dir>/<class>/<row, 5 digits>.png`, the class named by `classes` or the
 * label's number. Makes example and test data (scripts/make-digits-folder.ts).
 */
export async function writeImageFolder(ds: Dataset, dir: string, classes?: string[]): Promise<number> {
  const img = column(ds, 'image');
  const lab = column(ds, 'label');
  if (!isNumeric(img) || img.shape.length !== 3 || !isNumeric(lab))
    throw new Error('writeImageFolder needs an image [h, w, c] and a numeric label column');
  const tf = getTf();
  const node = (tf as unknown as { node?: { encodePng: (t: unknown) => Promise<Uint8Array> } }).node;
  if (!node) throw new Error('writeImageFolder needs the native TensorFlow backend (tfjs-node)');
  const px = img.shape.reduce((a, b) => a * b, 1);
  for (let i = 0; i < ds.rows; i++) {
    const cls = classes?.[lab.data[i]!] ?? String(lab.data[i]);
    await mkdir(`${dir}/${cls}`, { recursive: true });
    const t = tf.tidy(() =>
      tf
        .tensor3d(img.data.subarray(i * px, (i + 1) * px), img.shape as [number, number, number])
        .mul(255)
        .round()
        .toInt(),
    );
    try {
      await writeFile(`${dir}/${cls}/${String(i).padStart(5, '0')}.png`, await node.encodePng(t));
    } finally {
      t.dispose();
    }
  }
  return ds.rows;
}
