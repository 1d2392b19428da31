/** Argument parsing helpers shared by the CLI's commands. */

/** A mistake in the command line: exit code 2 and a pointer to --help. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A decimal number as people write one ("640", "-3.5", "1e-3"), or NaN: Number() would also take "0x280" and "". */
function decimal(text: string): number {
  return /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(text) ? Number(text) : Number.NaN;
}

export function parseNumberOption(name: string, value: string | undefined, check: (n: number) => boolean, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = decimal(value);
  if (!Number.isFinite(n) || !check(n)) throw new UsageError(`--${name} must be ${what}, got "${value}"`);
  return n;
}

/** "a,b,c" → numbers, with as many parts as one of `counts`. */
export function parseNumberList(flag: string, value: string, counts: readonly number[], form: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const numbers = parts.map(decimal);
  if (!counts.includes(parts.length) || numbers.some((n) => !Number.isFinite(n))) {
    throw new UsageError(`--${flag} expects ${form}, got "${value}"`);
  }
  return numbers;
}
