/**
 * A small runner for UI tests that drive a real VS Code in Chromium: a scenario
 * is a story of dependent steps (open the image, segment, hover, select, …) on
 * one workbench, so once a step fails the rest of its scenario is skipped rather
 * than failing for the same cause. Each step may save screenshots, numbered in
 * order under test-results/ui/<scenario>/, for a person to look at.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { REPO_ROOT } from '../vscode/server';

export const UI_RESULTS_DIR = path.join(REPO_ROOT, 'test-results', 'ui');
/** The palette fixture model (`npm run fixtures`), which the UI scenarios segment with. */
export const FIXTURE_MODEL = path.join(REPO_ROOT, 'models', 'fixtures', 'palette-fastsam.onnx');

export interface ScenarioContext {
  /** This scenario's output folder (screenshots, logs); emptied when the scenario starts. */
  readonly dir: string;
  /** Runs one step; skipped (not run) when an earlier step of the scenario failed. */
  step(title: string, fn: () => Promise<void>): Promise<void>;
  /** Saves a screenshot of `page` as <dir>/NN-<name>.png. */
  shot(page: Page, name: string): Promise<void>;
  /** The page a failed step's screenshot is taken of. */
  usePage(page: Page): void;
  /** Called after the scenario, last registered first, whether it passed or not. */
  cleanup(fn: () => Promise<void>): void;
  /** Prints a line under the scenario's report. */
  log(message: string): void;
}

export interface Scenario {
  /** Short, file-name-safe: it names the output folder. */
  readonly id: string;
  readonly title: string;
  run(t: ScenarioContext): Promise<void>;
}

export interface RunSummary {
  passed: number;
  failed: number;
  skipped: number;
  failures: string[];
}

const elapsed = (since: number): string => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** Cleanups of the scenario being run, for the runner's Ctrl+C handler. */
let activeCleanups: (() => Promise<void>)[] = [];

export async function runActiveCleanups(): Promise<void> {
  const list = activeCleanups;
  activeCleanups = [];
  for (const fn of list.reverse()) await fn().catch(() => undefined);
}

export async function runScenario(scenario: Scenario, summary: RunSummary): Promise<void> {
  const dir = path.join(UI_RESULTS_DIR, scenario.id);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const started = Date.now();
  console.log(`\n${scenario.title}`);

  let broken: string | undefined;
  let shots = 0;
  let page: Page | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  activeCleanups = cleanups;

  const t: ScenarioContext = {
    dir,
    async step(title, fn) {
      if (broken) {
        summary.skipped++;
        console.log(`  skip ${title}`);
        return;
      }
      const t0 = Date.now();
      try {
        await fn();
        summary.passed++;
        console.log(`  ok   ${title} (${elapsed(t0)})`);
      } catch (e) {
        summary.failed++;
        broken = title;
        summary.failures.push(`${scenario.title}: ${title}`);
        const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
        console.log(`  FAIL ${title} (${elapsed(t0)})\n       ${message.split('\n').join('\n       ')}`);
        if (page) await t.shot(page, 'FAILED');
      }
    },
    async shot(page, name) {
      shots++;
      const file = path.join(dir, `${String(shots).padStart(2, '0')}-${name}.png`);
      try {
        await page.screenshot({ path: file });
      } catch (e) {
        // A missing screenshot must not hide the step's real result.
        console.log(`       (screenshot ${path.basename(file)} failed: ${(e as Error).message.split('\n')[0]})`);
      }
    },
    usePage(p) {
      page = p;
    },
    cleanup(fn) {
      cleanups.push(fn);
    },
    log(message) {
      console.log(`       ${message}`);
    },
  };

  try {
    await scenario.run(t);
  } catch (e) {
    // Setup outside any step failed: count it, so that a run where nothing could start fails.
    summary.failed++;
    summary.failures.push(`${scenario.title}: setup`);
    console.log(`  FAIL setup\n       ${(e instanceof Error ? (e.stack ?? e.message) : String(e)).split('\n').join('\n       ')}`);
  } finally {
    activeCleanups = [];
    for (const fn of cleanups.reverse()) {
      await fn().catch((e: unknown) => console.log(`       (cleanup failed: ${e instanceof Error ? e.message : String(e)})`));
    }
  }
  console.log(`  ${scenario.id}: ${elapsed(started)}; screenshots and logs in ${path.relative(REPO_ROOT, dir)}/`);
}
