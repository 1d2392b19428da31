/**
 * Mask colours. Each mask keeps one colour wherever it appears (overlay, hover,
 * side-list swatch), derived from its id alone so that it survives reloads and
 * needs no table. Hues follow the golden angle, which keeps neighbouring ids far
 * apart on the colour wheel however many masks there are.
 */
export type Rgb = readonly [number, number, number];

const GOLDEN_ANGLE = 137.50776405;

export function maskHue(id: number): number {
  // Offset so that mask 0 (often the largest) is a calm blue rather than red, which reads as an error.
  return (210 + id * GOLDEN_ANGLE) % 360;
}

export function maskColor(id: number): Rgb {
  // Saturation and lightness alternate a little so hues that land close still differ.
  const s = id % 2 === 0 ? 0.78 : 0.66;
  const l = id % 3 === 0 ? 0.56 : id % 3 === 1 ? 0.5 : 0.62;
  return hslToRgb(maskHue(id), s, l);
}

/** A lighter tint for outlines, so the edge reads against both the fill and the image. */
export function outlineColor(id: number): Rgb {
  const [r, g, b] = maskColor(id);
  const mix = (c: number) => Math.round(c + (255 - c) * 0.45);
  return [mix(r), mix(g), mix(b)];
}

export function cssColor(rgb: Rgb): string {
  return `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})`;
}

export function hslToRgb(h: number, s: number, l: number): Rgb {
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const hp = (((h % 360) + 360) % 360) / 60;
  const x = c * (1 - Math.abs((hp % 2) - 1));
  const [r1, g1, b1] = hp < 1 ? [c, x, 0] : hp < 2 ? [x, c, 0] : hp < 3 ? [0, c, x] : hp < 4 ? [0, x, c] : hp < 5 ? [x, 0, c] : [c, 0, x];
  const m = l - c / 2;
  return [Math.round((r1 + m) * 255), Math.round((g1 + m) * 255), Math.round((b1 + m) * 255)];
}
