/** Counts in words ("1 mask", "12,345 pixels"), the same in the editor, the extension's notices and the CLI. */

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 12345 → "12,345". */
export function formatInt(n: number): string {
  return integer.format(n);
}

/** "1 mask", "3 masks", "1,024 images". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatInt(n)} ${n === 1 ? one : many}`;
}
