// The time from pressing Run on `1+1` in the Owlet console to its output in the browser: Debian's Chromium
// (playwright-core) on a notebook opened through a CreatePresignedNotebookUrl link, against an Owlet server
// process with a real PySpark session. The clock starts at the key press (Ctrl+Enter, code already typed) and
// stops when the page shows the cell's output; both are read in the page (performance.now()), so neither the
// test driver's round trips nor typing count.
//
//   node dist/bench/console-latency.js [--samples N] [--warmup N]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CreateNotebookCommand,
  CreatePresignedNotebookUrlCommand,
  GetSessionStatusCommand,
  StartSessionCommand,
} from '@aws-sdk/client-athena';
import { launchChromium } from '../test/console/browser.js';
import { RESULTS_DIR, startOwletServer } from './owlet-server.js';
import { distribution, ms, saveJson, sleep } from './report.js';

const { values } = parseArgs({ options: { samples: { type: 'string', default: '20' }, warmup: { type: 'string', default: '3' } } });
const samples = Number(values.samples);
const warmup = Number(values.warmup);

const server = await startOwletServer({ name: 'console-latency' });
const chromium = await launchChromium();
try {
  const { athena } = server;
  const notebook = await athena.send(new CreateNotebookCommand({ WorkGroup: 'spark', Name: 'latency' }));
  const { SessionId } = await athena.send(new StartSessionCommand({
    WorkGroup: 'spark',
    EngineConfiguration: { MaxConcurrentDpus: 3, AdditionalConfigs: { NotebookId: notebook.NotebookId! } },
    NotebookVersion: 'Athena notebook version 1',
  }));
  const deadline = Date.now() + 300_000;
  while ((await athena.send(new GetSessionStatusCommand({ SessionId }))).Status?.State !== 'IDLE') {
    if (Date.now() > deadline) throw new Error('the session did not become IDLE within 5 minutes');
    await sleep(200);
  }
  console.log('the session is IDLE');
  const link = await athena.send(new CreatePresignedNotebookUrlCommand({ SessionId }));
  const page = await chromium.browser.newPage();
  await page.goto(link.NotebookUrl!);
  await page.locator('.kernel-state[data-state="idle"]').waitFor({ timeout: 120_000 });
  await page.locator('.cell.selected .cm-content').click();

  const measured: number[] = [];
  for (let i = 0; i < warmup + samples; i++) {
    const id = await page.locator('.cell.selected').getAttribute('data-cell-id');
    await page.keyboard.insertText('1+1');
    // In the page (this file is compiled without the DOM's types, so the page's code is a string): starts the
    // clock at the key press and stops it when the cell's outputs show the value. The watcher is in place
    // before the key is pressed (the evaluation is awaited), and its result is read after.
    await page.evaluate(`window.owletLatency = new Promise((resolve) => {
      const cell = document.querySelector('.cell[data-cell-id="${id}"]');
      let started = 0;
      document.addEventListener('keydown', () => { started = performance.now(); }, { capture: true, once: true });
      const watch = new MutationObserver(() => {
        const shown = cell.querySelector('.outputs .bundle');
        if (started && shown && shown.textContent.includes('2')) {
          watch.disconnect();
          resolve(performance.now() - started);
        }
      });
      watch.observe(cell, { subtree: true, childList: true, characterData: true });
    }); undefined`);
    const elapsed = page.evaluate<number>('window.owletLatency');
    await page.keyboard.press('Alt+Enter');
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`sample ${i}: no output within 2 minutes`)), 120_000);
    });
    const value = await Promise.race([elapsed, stuck]).catch(async (error: unknown) => {
      await page.screenshot({ path: join(RESULTS_DIR, 'console-latency-stuck.png') });
      throw error;
    }).finally(() => clearTimeout(timer));
    process.stdout.write(`${i < warmup ? 'warm-up' : 'sample'} ${i}: ${value.toFixed(0)} ms\n`);
    if (i >= warmup) measured.push(value);
    await page.locator(`.cell[data-cell-id="${id}"] .timing`, { hasText: 'ran in' }).waitFor({ timeout: 60_000 });
  }
  const d = distribution(measured);
  console.log(`Run on 1+1 → output in the browser: p50 ${ms(d.p50)}, p95 ${ms(d.p95)}, min ${ms(d.min)}, max ${ms(d.max)} (${measured.length} samples)`);
  saveJson('console-latency.json', { samples: measured, distribution: d });
} finally {
  await chromium.close();
  await server.stop();
}
