// The imageFolder source: `<path>/<class>/<file>.png|.jpg|.jpeg`, decoded natively by tfjs-node's
// `tf.node.decodeImage` (TensorFlow's own PNG and JPEG decoders). Classes are the subfolders'
// names in sorted (code point) order and the label is a class's index in that order, so the same
// tree always gives the same labels; the names are kept as the dataset's `classes`. Each image
// must have the declared size (or is scaled to it with `resize`) and channel count; a file that
// does not decode or does not fit is an error naming its path. Hidden entries and files with
// other extensions are skipped.
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveInside } from '../../artifacts/paths.ts';
import type { ImageFolderSource } from '../../spec/types.gen.ts';
import { getTf, type Tf } from '../runtime/backend.ts';
import { DataError } from './sources.ts';
import { column, isNumeric, type Dataset } from './dataset.ts';

const IMAGE = /\.(png|jpe?g)$/i;
export const DEFAULT_MAX_FILES = 100_000;
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

interface ImageFile {
  rel: string;
  abs: string;
  label: number;
}

async function listImages(root: string, path: string, where: string, maxFiles: number): Promise<{ files: ImageFile[]; classes: string[] }> {
  const entries = await readdir(root, { withFileTypes: true });
  const classes = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  if (classes.length === 0) {
    throw new DataError(`${where}: ${path} has no class subfolders; put each class's images in ${path}/<class name>/`);
  }
  const files: ImageFile[] = [];
  for (const [label, cls] of classes.entries()) {
    const names = (await readdir(join(root, cls))).filter((f) => !f.startsWith('.') && IMAGE.test(f)).sort();
    if (names.length === 0) {
      throw new DataError(`${where}: ${path}/${cls} holds no .png, .jpg or .jpeg files; add the class's images or remove the folder`);
    }
    for (const f of names) files.push({ rel: `${path}/${cls}/${f}`, abs: join(root, cls, f), label });
    if (files.length > maxFiles) {
      throw new DataError(`${where}: ${path} holds more than ${maxFiles} images; raise source.maxFiles (the dataset is held in memory)`);
    }
  }
  return { files, classes };
}

export async function loadImageFolder(
  src: ImageFolderSource,
  baseDir: string | undefined,
  where: string,
  o: { signal?: AbortSignal; onPhase?: (message: string) => void } = {},
): Promise<Dataset> {
  if (!baseDir) throw new DataError(`${where}: no base directory was given for path ${JSON.stringify(src.path)}`);
  let root: string;
  try {
    root = resolveInside(baseDir, src.path);
  } catch (e) {
    throw new DataError(`${where}: ${(e as Error).message}`);
  }
  if (!(await stat(root).catch(() => null))?.isDirectory()) {
    throw new DataError(`${where}: ${src.path} is not a folder (looked in ${baseDir}); fix source.path`);
  }
  const [h, w] = src.size as [number, number];
  const ch = src.channels ?? 1;
  const decode = decoder(where);
  const tf = getTf();
  const { files, classes } = await listImages(root, src.path, where, src.maxFiles ?? DEFAULT_MAX_FILES);
  const px = h * w * ch;
  const need = files.length * px * 4;
  if (need > MAX_PIXEL_BYTES) {
    throw new DataError(
      `${where}: ${files.length} images of ${h}x${w}x${ch} need ${(need / 1024 ** 3).toFixed(1)} GiB as ` +
        `float32, over the ${MAX_PIXEL_BYTES / 1024 ** 3} GiB ` +
        'an imageFolder dataset may hold in memory; declare a smaller size with resize: true, or use fewer images',
    );
  }
  const images = new Float32Array(files.length * px);
  const labels = new Float32Array(files.length);
  for (const [i, f] of files.entries()) {
    if (i % 500 === 0) {
      o.signal?.throwIfAborted();
      o.onPhase?.(`decoding images: ${i} of ${files.length}`);
    }
    const bytes = await readFile(f.abs);
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
    rows: files.length,
    label: 'label',
    classes,
    columns: [
      { name: 'image', type: 'number', shape: [h, w, ch], data: images },
      { name: 'label', type: 'integer', shape: [], data: labels },
    ],
    // each row named by its image's path in messages (expectations, a bad value in training)
    origin: { file: src.path, unit: 'file', at: Uint32Array.from(files, (_, i) => i), files: files.map((f) => f.rel) },
  };
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
