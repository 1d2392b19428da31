/**
 * Line icons in the style of VS Code's codicons (16 × 16, currentColor), built as
 * SVG elements so they need no font, no image request and no inline style. The
 * codicon font is not available to a webview without shipping it, and these few
 * shapes are simpler than that.
 */
const SVG = 'http://www.w3.org/2000/svg';

export type IconName =
  | 'everything'
  | 'point'
  | 'box'
  | 'undo'
  | 'redo'
  | 'clear'
  | 'fit'
  | 'zoomIn'
  | 'zoomOut'
  | 'eye'
  | 'eyeClosed'
  | 'close'
  | 'export'
  | 'chevronLeft'
  | 'chevronRight'
  | 'warning'
  | 'stop';

/** Each icon: stroked paths, plus optional filled ones. */
const ICONS: Record<IconName, { stroke?: string[]; fill?: string[]; dashed?: string[] }> = {
  everything: { stroke: ['M2.5 2.5h4.5v4.5H2.5z', 'M9 2.5h4.5v4.5H9z', 'M2.5 9h4.5v4.5H2.5z', 'M9 9h4.5v4.5H9z'] },
  point: { stroke: ['M8 1.5v3', 'M8 11.5v3', 'M1.5 8h3', 'M11.5 8h3'], fill: ['M8 5.75a2.25 2.25 0 1 1 0 4.5a2.25 2.25 0 1 1 0-4.5z'] },
  box: { dashed: ['M2.5 2.5h11v11h-11z'], fill: ['M1.5 1.5h2v2h-2z', 'M12.5 1.5h2v2h-2z', 'M1.5 12.5h2v2h-2z', 'M12.5 12.5h2v2h-2z'] },
  undo: { stroke: ['M3.5 6.5h6.25a3.25 3.25 0 0 1 0 6.5H6', 'M6 3.5 3 6.5l3 3'] },
  redo: { stroke: ['M12.5 6.5H6.25a3.25 3.25 0 0 0 0 6.5H10', 'M10 3.5l3 3-3 3'] },
  clear: { stroke: ['M3.5 12.5h9', 'M5.5 10.5 11.5 4.5', 'M9 2.5l4.5 4.5-5.5 5.5H5l-2-2z'] },
  fit: { stroke: ['M2.5 6V2.5H6', 'M10 2.5h3.5V6', 'M13.5 10v3.5H10', 'M6 13.5H2.5V10', 'M5.5 5.5h5v5h-5z'] },
  zoomIn: { stroke: ['M7 2.5a4.5 4.5 0 1 1 0 9a4.5 4.5 0 1 1 0-9z', 'M10.2 10.2 13.5 13.5', 'M5 7h4', 'M7 5v4'] },
  zoomOut: { stroke: ['M7 2.5a4.5 4.5 0 1 1 0 9a4.5 4.5 0 1 1 0-9z', 'M10.2 10.2 13.5 13.5', 'M5 7h4'] },
  eye: { stroke: ['M1.5 8s2.4-4.5 6.5-4.5S14.5 8 14.5 8s-2.4 4.5-6.5 4.5S1.5 8 1.5 8z', 'M8 6a2 2 0 1 1 0 4a2 2 0 1 1 0-4z'] },
  eyeClosed: { stroke: ['M1.5 8s2.4-4.5 6.5-4.5S14.5 8 14.5 8s-2.4 4.5-6.5 4.5S1.5 8 1.5 8z', 'M2.5 13.5l11-11'] },
  close: { stroke: ['M4 4l8 8', 'M12 4l-8 8'] },
  export: { stroke: ['M8 2v8', 'M4.5 6.5 8 10l3.5-3.5', 'M2.5 12v1.5h11V12'] },
  chevronLeft: { stroke: ['M10 3.5 5.5 8l4.5 4.5'] },
  chevronRight: { stroke: ['M6 3.5l4.5 4.5L6 12.5'] },
  warning: { stroke: ['M8 1.75 14.75 13.75H1.25z', 'M8 6v3.75'], fill: ['M8 11a.85.85 0 1 1 0 1.7a.85.85 0 1 1 0-1.7z'] },
  stop: { fill: ['M4 4h8v8H4z'] },
};

export function icon(name: IconName): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('width', '16');
  svg.setAttribute('height', '16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.classList.add('icon');
  const def = ICONS[name];
  const add = (d: string, kind: 'stroke' | 'fill' | 'dashed') => {
    const p = document.createElementNS(SVG, 'path');
    p.setAttribute('d', d);
    if (kind === 'fill') {
      p.setAttribute('fill', 'currentColor');
    } else {
      p.setAttribute('fill', 'none');
      p.setAttribute('stroke', 'currentColor');
      p.setAttribute('stroke-width', '1.2');
      p.setAttribute('stroke-linecap', 'round');
      p.setAttribute('stroke-linejoin', 'round');
      if (kind === 'dashed') p.setAttribute('stroke-dasharray', '2.2 1.6');
    }
    svg.appendChild(p);
  };
  def.stroke?.forEach((d) => add(d, 'stroke'));
  def.dashed?.forEach((d) => add(d, 'dashed'));
  def.fill?.forEach((d) => add(d, 'fill'));
  return svg;
}
