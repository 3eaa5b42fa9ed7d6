/**
 * The Temporal Web UI in a real browser: headless Chromium (Debian's `chromium`, driven by
 * playwright-core; no browser download) against a dev server of this file's own, started with
 * its UI (the suite's shared server runs headless). A pipeline applied by `mlpipe apply` is
 * triggered through its schedule; the test finds the run by the MlpipePipeline search attribute,
 * opens it and checks what mlpipe puts there: activity summaries, heartbeat progress, the
 * workflow summary/details, search attributes, the git memo and the schedule itself.
 *
 * Screenshots land in test-results/ui/. MLPIPE_UPDATE_DOCS_IMAGES=1 also copies the run's
 * timeline to docs/images/temporal-ui-run.png (the README's picture).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server.ts';
import { describeRun } from '../../src/temporal/runs.ts';
import { freePort } from '../support/ports.ts';
import { testEnv, type TestEnv } from '../support/temporal.ts';
import { apply, fixture, gitRepo, ROOT, until } from '../support/schedules.ts';

const CHROMIUM = process.env.MLPIPE_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-results/ui');
const tag = randomBytes(3).toString('hex');
const name = `ui-train-${tag}`;

let server: DevServer;
let env: TestEnv;
let browser: BrowserContext;
let page: Page;
let repo: ReturnType<typeof gitRepo>;
let commit: string;
let workflowId: string;
const tmp: string[] = [];

/** Waits for a locator, reloading the page between tries (the UI polls some views only slowly). */
async function visible(l: Locator, o: { reload?: boolean; timeoutMs?: number } = {}): Promise<Locator> {
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  for (;;) {
    try {
      // Some labels exist twice (one copy hidden by the responsive layout): take a visible one.
      const v = l.filter({ visible: true }).first();
      await v.waitFor({ state: 'visible', timeout: o.reload ? 3_000 : Math.max(1_000, deadline - Date.now()) });
      return v;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      if (o.reload) await page.reload();
    }
  }
}

/**
 * Waits for `text` in any frame: the UI renders summaries and details (Markdown) inside
 * sandboxed iframes, which page-level locators do not search.
 */
async function inAnyFrame(text: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const f of page.frames()) {
      if (
        await f
          .getByText(text, { exact: false })
          .filter({ visible: true })
          .count()
          .catch(() => 0)
      )
        return;
    }
    if (Date.now() > deadline) throw new Error(`"${text}" did not show in any frame of ${page.url()}`);
    await page.waitForTimeout(250);
  }
}

async function openTab(label: string, expectUrl: string): Promise<void> {
  await (await visible(page.getByRole('tab', { name: new RegExp(`^${label}`) }))).click();
  await page.waitForURL((u) => u.pathname.endsWith(expectUrl));
}

const shot = (file: string) => page.screenshot({ path: join(SHOTS, file), fullPage: true });

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set MLPIPE_CHROMIUM`);
  }
  mkdirSync(SHOTS, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'mlpipe-ui-server-'));
  tmp.push(dir);
  server = await startDevServer({ dbFile: join(dir, 'temporal.db'), port: await freePort(), uiPort: await freePort() });
  env = await testEnv('ui', { address: server.address });
  repo = gitRepo({ 'train.yaml': fixture('ui-train', { name, queue: env.queue }).replaceAll('@MS@', '120000') });
  tmp.push(repo.dir);
  commit = repo.commit('ui pipeline');
  await apply(env.client, repo.dir, { scope: `ui-${tag}`, queue: env.queue });
  const schedule = env.client.schedule.getHandle(`mlpipe:${name}`);
  await schedule.trigger();
  workflowId = (await until('the triggered run', async () => (await schedule.describe()).info.recentActions[0])).action.workflow.workflowId;
  // The train stage has heartbeated progress before the browser looks.
  await until('train progress', async () => (await describeRun(env.client, workflowId)).live.train?.progress);

  const profile = mkdtempSync(join(tmpdir(), 'mlpipe-chromium-'));
  tmp.push(profile);
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 1150 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(30_000);
}, 180_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  if (workflowId)
    await env?.client.workflow
      .getHandle(workflowId)
      .terminate('UI test done')
      .catch(() => undefined);
  await env?.close();
  await server?.stop();
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

describe('the Temporal UI shows mlpipe runs', () => {
  it('lists the run when filtered by the MlpipePipeline search attribute and opens it', async () => {
    const query = `MlpipePipeline="${name}"`;
    await page.goto(`${server.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
    const link = await visible(page.getByRole('link', { name: workflowId, exact: true }), { reload: true });
    await shot('01-workflow-list.png');
    await link.click();
    await page.waitForURL((u) => u.pathname.includes(`/workflows/${encodeURIComponent(workflowId)}/`));
    await visible(page.getByRole('heading', { name: workflowId }));
  });

  it('shows the training progress on the page a user lands on (the timeline labels each relay)', async () => {
    // The landing page's timeline auto-refreshes; the relayed progress signals are labelled by
    // their names, which are the progress lines themselves (`train · step 812/120000 · ETA …`).
    const label = await visible(page.getByText(/^train · step \d+\/120000/), { reload: true, timeoutMs: 60_000 });
    await label.scrollIntoViewIfNeeded();
    await shot('01-landing-progress.png');
    expect(page.url()).not.toMatch(/user-metadata|pending-activities/);
  }, 90_000);

  it('shows the stage activities with their summaries on the timeline', async () => {
    await openTab('Timeline', '/timeline');
    await visible(page.getByText('prepare (activity)'));
    const train = await visible(page.getByText('train (activity)'));
    // The page scrolls inside a container (a full-page shot stops at the viewport): bring the
    // timeline into view for the picture.
    await train.scrollIntoViewIfNeeded();
    await shot('02-run-timeline.png');
    if (process.env.MLPIPE_UPDATE_DOCS_IMAGES) {
      mkdirSync(join(ROOT, 'docs/images'), { recursive: true });
      copyFileSync(join(SHOTS, '02-run-timeline.png'), join(ROOT, 'docs/images/temporal-ui-run.png'));
    }
  });

  it("shows the training stage's progress (heartbeat details) among the pending activities", async () => {
    await openTab('Pending Activities', '/pending-activities');
    await visible(page.getByText('Heartbeat Details'));
    await visible(page.getByText('"progress"'));
    await visible(page.getByText('"steps": 120000'));
    await shot('03-pending-activities.png');
  });

  it("shows the run's summary and details (pipeline, plan hash, git commit, stages with live progress)", async () => {
    await openTab('User Metadata', '/user-metadata');
    await inAnyFrame(`${name}: 2 stages, schedule, ${commit.slice(0, 10)}`);
    await inAnyFrame('prepare (activity), train (activity)');
    await inAnyFrame(`${commit} on main from https://git.example.com/ml/pipelines.git`);
    // Current Details: the stage table with the running stage's relayed progress (`step n/120000`,
    // the slash typeset as a fraction slash); the UI reads them when the page loads
    for (let i = 0; ; i++) {
      try {
        await inAnyFrame('120000 · ETA', 8_000);
        break;
      } catch (err) {
        if (i >= 6) throw err;
        await page.reload();
      }
    }
    await shot('04-user-metadata.png');
  }, 120_000);

  it('shows the search attributes and the git memo (no credentials)', async () => {
    await openTab('Search Attributes', '/search-attributes');
    await visible(page.getByText(`"MlpipeTrigger": "schedule"`));
    await visible(page.getByText(`"MlpipeGitSha": "${commit}"`));
    await shot('05-search-attributes.png');
    await openTab('Memo', '/memo');
    await visible(page.getByText('"remote": "https://git.example.com/ml/pipelines.git"'));
    expect(await page.getByText('s3cret').count()).toBe(0);
    await shot('06-memo.png');
  });

  it('shows the schedule mlpipe apply made, with its note', async () => {
    await page.goto(`${server.uiUrl}/namespaces/default/schedules`);
    const link = await visible(page.getByRole('link', { name: `mlpipe:${name}` }), { reload: true });
    await shot('07-schedules.png');
    await link.click();
    await visible(page.getByText('triggered by the UI test'));
    await shot('08-schedule.png');
  });
});
