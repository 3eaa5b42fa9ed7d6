/** expect: checks an upstream dataset against expectations and passes it on unchanged. */
import type { StageKindDescriptor } from './descriptor.ts';
import { checkExpectations } from './expectations.ts';

export const expect: StageKindDescriptor<'expect'> = {
  kind: 'expect',
  inputs: {
    dataset: { kind: 'dataset', required: true },
    // what a `distribution` rule compares with: named, since a dataset is too common to guess
    reference: { kind: 'dataset', required: false, onlyNamed: true },
  },
  outputs: () => ({ dataset: 'dataset', rows: 'number', expectations: 'object' }),
  defaultStartToClose: '10m',
  // a pure function of the dataset's content (its digest keys the cache) and the rules
  cacheable: true,
  check(stage, c) {
    // the upstream dataset's columns are known only when it exists: a column name is checked then
    checkExpectations(stage.expect, 'expect', c, [], '');
  },
};
