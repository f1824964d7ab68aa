// The Owlet console end to end: Debian's Chromium (playwright-core) against a real Owlet server with real
// PySpark sessions, through the console's only protocols (the Jupyter Server API and websocket, and the
// Athena API signed in the browser). A handful of scenarios, each leaving a screenshot in
// test-artifacts/console/. Everything waits for what the page shows, with generous deadlines, never a fixed
// sleep. The time from pressing Run on `1+1` to its output is printed (bench/console-latency.ts measures it).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  type AthenaClient,
  CreateNotebookCommand,
  CreatePresignedNotebookUrlCommand,
  ExportNotebookCommand,
  GetSessionStatusCommand,
  StartSessionCommand,
  TerminateSessionCommand,
} from '@aws-sdk/client-athena';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { TEST_CREDENTIALS, type TestOwlet, startTestOwlet } from '../harness.js';
import { launchChromium, screenshot, type TestBrowser } from './browser.js';

/** Long enough for a cold PySpark session on a loaded two-core machine. */
const SESSION_DEADLINE_MS = 420_000;
const CELL_DEADLINE_MS = 180_000;

describe('the Owlet console in Chromium, on real PySpark', { timeout: 1_200_000 }, () => {
  let owlet: TestOwlet;
  let athena: AthenaClient;
  let chromium: TestBrowser;
  let browser: Browser;
  const sessions: string[] = [];

  // The suite's own data directory: the restart scenario starts a second server on it.
  const dataDir = mkdtempSync(join(tmpdir(), 'owlet-console-'));
  const serverConfig = { terminateSessionsOnExit: false };

  before(async () => {
    owlet = await startTestOwlet({ dataDir, config: serverConfig });
    athena = owlet.client();
    chromium = await launchChromium();
    browser = chromium.browser;
  });
  after(async () => {
    for (const id of sessions) await athena.send(new TerminateSessionCommand({ SessionId: id })).catch(() => undefined);
    await chromium?.close();
    await owlet?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** The kernel answers at once, and runs a cell once its session is IDLE: the tests wait for that first. */
  async function sessionIdle(sessionId: string): Promise<void> {
    const deadline = Date.now() + SESSION_DEADLINE_MS;
    for (;;) {
      const state = (await athena.send(new GetSessionStatusCommand({ SessionId: sessionId }))).Status?.State;
      if (state === 'IDLE') return;
      assert.ok(Date.now() < deadline && (state === 'CREATING' || state === 'CREATED'), `session ${sessionId} is ${state}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /** The page a scenario works on: shot after each scenario, whatever its outcome. */
  let current: Page | undefined;
  afterEach(async (t) => {
    if (current && !current.isClosed()) await screenshot(current, `after-${t.name.split(',')[0]!.replace(/\W+/g, '-')}`).catch(() => undefined);
  });

  async function freshPage(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    current = page;
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    return { context, page, problems };
  }

  /** Types code into the selected cell (edit mode) and runs it with Ctrl+Enter; the cell's locator. */
  async function typeAndRun(page: Page, code: string): Promise<ReturnType<Page['locator']>> {
    const cell = page.locator('.cell.selected');
    const id = await cell.getAttribute('data-cell-id');
    await page.keyboard.insertText(code);
    await page.keyboard.press('Control+Enter');
    return page.locator(`.cell[data-cell-id="${id}"]`);
  }

  async function finished(cell: ReturnType<Page['locator']>): Promise<void> {
    await cell.locator('.timing', { hasText: 'ran in' }).waitFor({ timeout: CELL_DEADLINE_MS });
  }

  /** Adds a cell at the end with the keyboard (Esc, B, Enter) and leaves it in edit mode. */
  async function newCellBelow(page: Page): Promise<void> {
    await page.locator('.cell').last().locator('.cm-content').click();
    await page.keyboard.press('Escape');
    await page.keyboard.press('b');
    await page.keyboard.press('Enter');
  }

  let notebookPage: Page;
  let notebookId: string;

  it('opens a CreatePresignedNotebookUrl link cold, and shows a clear page for a forged one', async () => {
    const created = await athena.send(new CreateNotebookCommand({ WorkGroup: 'spark', Name: 'from-a-link' }));
    const started = await athena.send(new StartSessionCommand({
      WorkGroup: 'spark',
      EngineConfiguration: { MaxConcurrentDpus: 3, AdditionalConfigs: { NotebookId: created.NotebookId! } },
      NotebookVersion: 'Athena notebook version 1',
    }));
    sessions.push(started.SessionId!);
    const link = await athena.send(new CreatePresignedNotebookUrlCommand({ SessionId: started.SessionId! }));
    const { context, page, problems } = await freshPage();
    await page.goto(link.NotebookUrl!);
    await page.locator('.notebook-title', { hasText: 'from-a-link' }).waitFor({ timeout: 30_000 });
    assert.ok(!page.url().includes('token='), `the token stays out of the address bar: ${page.url()}`);
    await sessionIdle(started.SessionId!);
    await page.locator('.cell.selected .cm-content').click();
    const cell = await typeAndRun(page, 'print("opened from a link")');
    await cell.locator('.stream.stdout', { hasText: 'opened from a link' }).waitFor({ timeout: CELL_DEADLINE_MS });
    await screenshot(page, '1-presigned-link');
    assert.deepEqual(problems, []);

    const forged = new URL(link.NotebookUrl!);
    forged.searchParams.set('token', 'forged-token');
    const other = await browser.newContext();
    const stranger = await other.newPage();
    await stranger.goto(forged.toString());
    await stranger.getByText(/not valid|expired/i).first().waitFor({ timeout: 30_000 });
    assert.equal(await stranger.locator('.cell').count(), 0, 'a forged link shows no notebook');
    await screenshot(stranger, '1-forged-link');
    await other.close();
    await context.close();
  });

  it('logs in with the key pair, creates a notebook with session settings, and runs print, a DataFrame, a figure and a failure', async () => {
    const { page, problems } = await freshPage();
    await page.goto(`${owlet.endpoint}/console/`);
    await page.fill('input[name=accessKeyId]', TEST_CREDENTIALS.accessKeyId);
    await page.fill('input[name=secretAccessKey]', TEST_CREDENTIALS.secretAccessKey);
    await page.click('form.login button[type=submit]');
    await page.locator('.notebook-list').waitFor();
    await page.click('text=Create notebook');
    await page.fill('dialog input[name=name]', 'console-demo');
    await page.fill('dialog input[name=idleTimeout]', '30');
    await page.fill('dialog input[name=maxDpus]', '4');
    await page.fill('dialog textarea[name=sparkProperties]', '{"spark.sql.shuffle.partitions": "4"}');
    await screenshot(page, '2-create-dialog');
    await page.click('dialog button[type=submit]');
    await page.locator('.notebook-title', { hasText: 'console-demo' }).waitFor({ timeout: 60_000 });
    notebookId = decodeURIComponent(new URL(page.url()).pathname.split('/').at(-1)!);
    const sessionId = new URL(page.url()).searchParams.get('session')!;
    sessions.push(sessionId);
    await sessionIdle(sessionId);
    await page.locator('.state-chip[data-state="IDLE"]').waitFor({ timeout: 30_000 });
    await page.locator('.session-details', { hasText: 'spark.sql.shuffle.partitions=4' }).waitFor({ timeout: 30_000 });

    await page.locator('.cell.selected .cm-content').click();
    const pressed = Date.now();
    const sum = await typeAndRun(page, '1+1');
    await sum.locator('.outputs .bundle', { hasText: '2' }).waitFor({ timeout: CELL_DEADLINE_MS });
    console.log(`# 1+1: ${Date.now() - pressed} ms from Run to its output in the browser (typing included)`);
    await finished(sum);

    await newCellBelow(page);
    const printed = await typeAndRun(page, 'for i in range(3):\n    print(f"line {i}")');
    await printed.locator('.stream.stdout', { hasText: 'line 2' }).waitFor({ timeout: CELL_DEADLINE_MS });

    await newCellBelow(page);
    const frame = await typeAndRun(page, 'spark.range(12).selectExpr("id", "id % 3 AS bucket", "cast(id * 1.5 AS double) AS x")');
    const table = frame.locator('.data-frame');
    await table.waitFor({ timeout: CELL_DEADLINE_MS });
    assert.equal(await table.locator('tbody tr').count(), 12);
    await table.locator('th', { hasText: 'x' }).click();
    await table.locator('th', { hasText: 'x' }).click();
    assert.equal(await table.locator('tbody tr:first-child td:first-child').textContent(), '11', 'sorted by x, descending');
    await table.locator('.table-filter').fill('7.5');
    assert.equal(await table.locator('tbody tr').count(), 1);
    await table.locator('.table-filter').fill('');
    await finished(frame);

    await newCellBelow(page);
    const figure = await typeAndRun(page, 'import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title("a figure")');
    await figure.locator('img.figure').waitFor({ timeout: CELL_DEADLINE_MS });
    assert.ok((await figure.locator('img.figure').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)) > 100, 'the PNG is drawn');

    await newCellBelow(page);
    const failing = await typeAndRun(page, 'x = 1\nraise ValueError("no good")');
    await failing.locator('.error-output', { hasText: 'ValueError' }).waitFor({ timeout: CELL_DEADLINE_MS });
    await failing.locator('.failing-line', { hasText: 'line 2' }).waitFor();
    await failing.locator('.cm-error-line').waitFor();
    await screenshot(page, '2-cells');
    assert.deepEqual(problems, []);
    notebookPage = page;
  });

  it('interrupts time.sleep(600)', async () => {
    const page = notebookPage;
    await newCellBelow(page);
    const sleeping = await typeAndRun(page, 'import time\nprint("sleeping", flush=True)\ntime.sleep(600)');
    await sleeping.locator('.stream.stdout', { hasText: 'sleeping' }).waitFor({ timeout: CELL_DEADLINE_MS });
    assert.equal(await sleeping.getAttribute('data-state'), 'running');
    await page.click('button.stop');
    await sleeping.locator('.error-output').waitFor({ timeout: CELL_DEADLINE_MS });
    await finished(sleeping);
    await page.locator('.kernel-state[data-state="idle"]').waitFor({ timeout: CELL_DEADLINE_MS });
    await screenshot(page, '3-interrupted');
  });

  it('runs all, marking the cells still queued, and stops at the failure', async () => {
    const page = notebookPage;
    // The first cell takes a few seconds, so the others are seen queued behind it.
    await page.keyboard.press('Escape');
    await page.locator('.cell').first().click();
    await page.keyboard.press('Escape');
    await page.keyboard.press('a');
    await page.keyboard.press('Enter');
    await page.keyboard.insertText('import time\ntime.sleep(3)\nprint("first")');
    await page.keyboard.press('Escape');
    await page.click('button.run-all');
    await page.locator('.cell[data-state="queued"]').first().waitFor({ timeout: CELL_DEADLINE_MS });
    await screenshot(page, '4-run-all-queued');
    // The failing cell stops the run: the cells after it are no longer queued, and nothing runs.
    await page.locator('.cell[data-state="queued"], .cell[data-state="running"]').first().waitFor({ state: 'detached', timeout: 4 * CELL_DEADLINE_MS });
    await page.locator('.stream.stdout', { hasText: 'first' }).waitFor();
    await page.locator('.save-state[data-state="saved"]').waitFor({ timeout: 60_000 });
    await screenshot(page, '4-run-all-done');
  });

  it('finds the outputs saved after a reload, and in the notebook ExportNotebook answers', async () => {
    const page = notebookPage;
    await page.locator('.save-state[data-state="saved"]').waitFor({ timeout: 60_000 });
    // The page asks before leaving with unsaved changes; there are none, but a question would stop the reload.
    page.on('dialog', (question) => void question.accept());
    await page.reload();
    await page.locator('.notebook-title', { hasText: 'console-demo' }).waitFor({ timeout: 30_000 });
    await page.locator('.stream.stdout', { hasText: 'line 2' }).waitFor();
    await page.locator('.data-frame').waitFor();
    await page.locator('img.figure').waitFor();
    await page.locator('.error-output', { hasText: 'ValueError' }).first().waitFor();
    await screenshot(page, '5-reloaded');

    const exported = await athena.send(new ExportNotebookCommand({ NotebookId: notebookId }));
    const document = JSON.parse(exported.Payload!) as { cells: { outputs?: { output_type: string; text?: string; data?: Record<string, unknown> }[] }[] };
    const outputs = document.cells.flatMap((c) => c.outputs ?? []);
    assert.ok(outputs.some((o) => o.output_type === 'stream' && String(o.text).includes('line 2')), 'the printed lines');
    assert.ok(outputs.some((o) => o.data?.['image/png'] !== undefined), 'the figure');
    assert.ok(outputs.some((o) => o.output_type === 'error'), 'the failure');
    assert.ok(outputs.some((o) => typeof o.data?.['application/json'] === 'object'), 'the DataFrame table');
  });

  it('reconnects after a server restart, to the same session', async () => {
    const page = notebookPage;
    await page.locator('.kernel-state[data-state="idle"]').waitFor({ timeout: CELL_DEADLINE_MS });
    const { port } = owlet;
    await owlet.stop();
    await page.locator('.banner', { hasText: 'reconnecting' }).waitFor({ timeout: 60_000 });
    await screenshot(page, '6-server-down');
    owlet = await startTestOwlet({ dataDir, config: { ...serverConfig, port } });
    athena = owlet.client();
    await page.locator('.banner').waitFor({ state: 'hidden', timeout: 120_000 });
    await page.locator('.cell').last().click();
    await page.keyboard.press('Escape');
    await page.keyboard.press('b');
    await page.keyboard.press('Enter');
    // `x` was set by the failing cell before the restart: the session, and its variables, are still there.
    const after = await typeAndRun(page, 'print("x is", x)');
    await after.locator('.stream.stdout', { hasText: 'x is 1' }).waitFor({ timeout: CELL_DEADLINE_MS });
    await screenshot(page, '6-reconnected');
  });

  it('explains why a notebook with an active session cannot be renamed, and renames it once the session is ended', async () => {
    const page = notebookPage;
    await page.goto(`${owlet.endpoint}/console/`);
    const row = page.locator('.notebook-list tr[data-notebook="from-a-link"]');
    await row.waitFor({ timeout: 30_000 });
    await row.locator('button', { hasText: 'Rename' }).click();
    await page.fill('dialog input[name=name]', 'renamed-notebook');
    await page.click('dialog button[type=submit]');
    const refusal = page.locator('dialog', { hasText: 'has an active session' });
    await refusal.locator('.refusal', { hasText: 'terminate it before renaming' }).waitFor({ timeout: 30_000 });
    await screenshot(page, '7-rename-refused');
    await refusal.locator('button[type=submit]', { hasText: 'End the session and rename' }).click();
    await page.locator('.notebook-list tr[data-notebook="renamed-notebook"]').waitFor({ timeout: 120_000 });
    await screenshot(page, '7-renamed');
  });
});
