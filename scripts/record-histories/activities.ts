// The recording worker's user activities: the example pipelines' and the tests', in one module
// (a worker loads one, in child processes: activities/lib/user-pool.ts).
export * from '../../pipelines/activities.ts';
export * from '../../test/support/activities.ts';
