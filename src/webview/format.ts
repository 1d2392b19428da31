/** Number formatting for the UI and the screen-reader announcements (pure). */

import { formatInt } from '../shared/counts';

/** Compact area for tight spots: "812 px", "12.3k px", "4.1M px". */
export function formatArea(n: number): string {
  if (n < 10_000) return `${formatInt(n)} px`;
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 100_000 ? 1 : 0)}k px`;
  return `${(n / 1_000_000).toFixed(1)}M px`;
}

/** A score in [0, 1] as shown next to masks: "0.93". */
export function formatScore(score: number): string {
  return score.toFixed(2);
}

/** Milliseconds: "12 ms", "1.2 s" past ten seconds' worth of digits. */
export function formatMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms)} ms`;
}

/** Zoom as a percentage: "100%", "12.5%", "6400%". */
export function formatZoom(zoom: number): string {
  const pct = zoom * 100;
  if (pct >= 10) return `${Math.round(pct)}%`;
  return `${pct.toFixed(pct >= 1 ? 1 : 2)}%`;
}
