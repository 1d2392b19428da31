/**
 * Running the built `fastsam` command (`dist/cli.js`, which `npm test` builds
 * first) in a child process, as users run it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export const CLI = path.resolve(__dirname, '../../dist/cli.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function assertCliBuilt(): void {
  assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first`);
}

/** Runs `fastsam args`; `cli` is another copy of the bundle (a broken installation, say). */
export function fastsam(args: string[], env: NodeJS.ProcessEnv = process.env, cli = CLI): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { maxBuffer: 256 * 1024 * 1024, env }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
