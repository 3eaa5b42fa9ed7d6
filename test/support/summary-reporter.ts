/**
 * Ends a run with one plain line, `N passed, N failed[, N skipped]`, that tools reading only
 * the last lines of a log (CI dashboards) understand whatever the test runner.
 */
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const count = (state: 'passed' | 'failed' | 'skipped') => modules.reduce((n, m) => n + [...m.children.allTests(state)].length, 0);
    // A module that failed without a failed test (a syntax error, a failed beforeAll whose tests
    // then count as skipped) fails the run: count it, so a broken suite never reads as skips.
    const broken = modules.filter((m) => m.state() === 'failed' && [...m.children.allTests('failed')].length === 0).length;
    const skipped = count('skipped');
    process.stdout.write(`\n${count('passed')} passed, ${count('failed') + broken} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  }
}
