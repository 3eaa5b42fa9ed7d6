/**
 * `npm run bench`: every benchmark, each against its baseline run side by side, printed as
 * ratios. `npm run bench -- --only spec,orchestration,train,train-chunks,search,search-workers,large-data,serving,preprocess` picks some.
 */
const only = (() => {
  const i = process.argv.indexOf('--only');
  return i > 0 ? new Set(process.argv[i + 1]!.split(',')) : null;
})();

const benches: { name: string; run: () => Promise<string> }[] = [
  {
    name: 'spec',
    run: async () => {
      const { runSpecBench, formatSpecBench } = await import('./spec.ts');
      return formatSpecBench(runSpecBench());
    },
  },
  {
    name: 'orchestration',
    run: async () => {
      const { runOrchestrationBench, formatOrchestration } = await import('./orchestration.ts');
      return formatOrchestration(await runOrchestrationBench());
    },
  },
  {
    name: 'train',
    run: async () => {
      const { trainSpeed, formatTrainSpeed, measureBlocking, formatBlocking, recurrentSpeed, formatRecurrent } = await import(
        './train-speed.ts'
      );
      const { lstmRace, formatLstmRace } = await import('./lstm-race.ts');
      // two rounds of each race keep the default run to a few minutes; the CLI's default is 3
      return (
        `${formatTrainSpeed(await trainSpeed({ repeats: 2 }))}\n\n${formatLstmRace(await lstmRace({ repeats: 2 }))}\n\n` +
        `${formatRecurrent(await recurrentSpeed())}\n\n${formatBlocking(await measureBlocking())}`
      );
    },
  },
  {
    name: 'train-chunks',
    run: async () => {
      const { trainChunks, formatTrainChunks } = await import('./train-chunks.ts');
      return formatTrainChunks(await trainChunks());
    },
  },
  {
    name: 'search',
    run: async () => {
      const { searchQuality, formatSearchQuality } = await import('./search-quality.ts');
      return formatSearchQuality(await searchQuality());
    },
  },
  {
    name: 'search-workers',
    run: async () => {
      const { searchWorkers, formatSearchWorkers } = await import('./search-workers.ts');
      return formatSearchWorkers(await searchWorkers());
    },
  },
  {
    name: 'large-data',
    run: async () => {
      const { largeData, formatLargeData } = await import('./large-data.ts');
      return formatLargeData(await largeData({ mb: 200 }));
    },
  },
  {
    name: 'serving',
    run: async () => {
      const { servingBench, formatServing } = await import('./serving.ts');
      return formatServing(await servingBench());
    },
  },
  {
    name: 'preprocess',
    run: async () => {
      const { preprocessBench, formatPreprocess } = await import('./preprocess-stream.ts');
      return formatPreprocess(await preprocessBench());
    },
  },
];

let failed = 0;
for (const b of benches) {
  if (only && !only.has(b.name)) continue;
  console.log(`\n=== ${b.name} ===`);
  try {
    console.log(await b.run());
  } catch (err) {
    failed++;
    console.log(`${b.name} could not run: ${err instanceof Error ? err.message : String(err)}`);
  }
}
process.exitCode = failed ? 1 : 0;
