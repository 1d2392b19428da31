/**
 * How the host's notification and the webview's notice name the files an export
 * wrote: the same words on both sides of the boundary.
 */

/** The last part of a path, with either separator (the webview does not know the host's). */
export function baseName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}

/** "a.png, b.json, c.txt", or the first three and how many more when there are over four. */
export function fileNameList(paths: readonly string[]): string {
  const names = paths.map(baseName);
  return names.length <= 4 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}
