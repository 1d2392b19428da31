/**
 * The models the extension and CLI can download: models/manifest.json, checked
 * when loaded so that a bad edit fails loudly instead of mid-download.
 */
import manifestJson from '../../../models/manifest.json';
import { UserFacingError } from '../errors';

export interface ModelManifestEntry {
  /** Stable id: "fastsam-s", "fastsam-x". */
  readonly id: string;
  readonly displayName: string;
  readonly description: string;
  /** Name of the downloaded file, e.g. "FastSAM-s.pt". */
  readonly fileName: string;
  readonly format: 'pt';
  /** Exact size in bytes when known, else null (the server's length is used). */
  readonly size: number | null;
  /** For messages and a sanity check on what the server sends. */
  readonly approximateSize: number;
  /** Lower-case hex SHA-256 when known; else it is recorded at the first download. */
  readonly sha256: string | null;
  /** SPDX identifier of the weights' license. */
  readonly license: string;
  readonly licenseUrl: string;
  /** Download sources, best first; later ones are fallbacks for a 404. */
  readonly urls: readonly string[];
}

export interface ModelManifest {
  readonly models: readonly ModelManifestEntry[];
}

export class ManifestError extends Error {
  override name = 'ManifestError';
}

function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/** Validates a manifest (from models/manifest.json or, in tests, any object). */
export function parseManifest(json: unknown, source = 'model manifest'): ModelManifest {
  const fail = (what: string): never => {
    throw new ManifestError(`${source}: ${what}`);
  };
  if (typeof json !== 'object' || json === null) fail('not a JSON object');
  const { schemaVersion, models } = json as { schemaVersion?: unknown; models?: unknown };
  if (schemaVersion !== 1) fail(`schemaVersion ${String(schemaVersion)} is not supported (expected 1)`);
  if (!Array.isArray(models) || models.length === 0) fail('"models" must be a non-empty array');
  const ids = new Set<string>();
  const entries = (models as unknown[]).map((raw, i): ModelManifestEntry => {
    const at = `models[${i}]`;
    if (typeof raw !== 'object' || raw === null) fail(`${at} is not an object`);
    const m = raw as Record<string, unknown>;
    const text = (key: string): string => {
      const v = m[key];
      if (typeof v !== 'string' || v.trim() === '') fail(`${at}.${key} must be a non-empty string`);
      return v as string;
    };
    const id = text('id');
    if (!/^[a-z0-9][a-z0-9-]*$/.test(id)) fail(`${at}.id "${id}" must be lower-case letters, digits and dashes`);
    if (ids.has(id)) fail(`${at}.id "${id}" is not unique`);
    ids.add(id);
    const fileName = text('fileName');
    if (fileName !== fileName.replace(/[/\\]/g, '') || fileName.startsWith('.') || !/\.pt$/.test(fileName)) fail(`${at}.fileName "${fileName}" must be a plain .pt file name`);
    if (m.format !== 'pt') fail(`${at}.format must be "pt"`);
    if (m.size !== null && !(Number.isSafeInteger(m.size) && (m.size as number) > 0)) fail(`${at}.size must be a positive integer or null`);
    if (!(typeof m.approximateSize === 'number' && m.approximateSize > 0)) fail(`${at}.approximateSize must be a positive number`);
    if (m.sha256 !== null && !(typeof m.sha256 === 'string' && /^[0-9a-f]{64}$/.test(m.sha256))) fail(`${at}.sha256 must be 64 lower-case hex digits or null`);
    const licenseUrl = text('licenseUrl');
    if (!isHttpUrl(licenseUrl)) fail(`${at}.licenseUrl is not an http(s) URL`);
    const urls = m.urls;
    if (!Array.isArray(urls) || urls.length === 0 || !urls.every(isHttpUrl)) fail(`${at}.urls must be a non-empty array of http(s) URLs`);
    return {
      id,
      displayName: text('displayName'),
      description: text('description'),
      fileName,
      format: 'pt',
      size: m.size as number | null,
      approximateSize: m.approximateSize as number,
      sha256: m.sha256 as string | null,
      license: text('license'),
      licenseUrl,
      urls: [...(urls as string[])],
    };
  });
  return { models: entries };
}

/** The manifest shipped with this version (models/manifest.json). */
export const MODEL_MANIFEST: ModelManifest = parseManifest(manifestJson, 'models/manifest.json');

export function findModel(id: string, manifest: ModelManifest = MODEL_MANIFEST): ModelManifestEntry {
  const entry = manifest.models.find((m) => m.id === id);
  if (!entry) throw new UserFacingError(`Unknown model "${id}"; known models: ${manifest.models.map((m) => m.id).join(', ')}`);
  return entry;
}
