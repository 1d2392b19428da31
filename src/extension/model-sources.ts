/**
 * Where a model download comes from and goes through, from the settings:
 * `fastsam.modelDownloadMirror` (a base URL that replaces Ultralytics' release
 * URL prefix, for corporate mirrors and air-gapped setups), and VS Code's
 * `http.proxy` / `http.noProxy` over the proxy environment variables. Read
 * when a download starts, so a bad value is reported when it matters.
 *
 * No 'vscode' import: the unit tests cover it directly.
 */
import { UserFacingError } from '../core/errors';
import type { ModelManifestEntry } from '../core/models/manifest';
import type { ProxySettings } from '../core/models/proxy';

/** The prefix of the manifest's official sources that a mirror replaces. */
export const OFFICIAL_RELEASES_PREFIX = 'https://github.com/ultralytics/assets/releases/download/';

/** What the editor's Download fetches: the small model. */
export const DEFAULT_MODEL_ID = 'fastsam-s';

export const MIRROR_SETTING = 'fastsam.modelDownloadMirror';

/**
 * The mirror's base URL, ending in "/" so that the release path is appended
 * below it; undefined when the setting is empty. Anything but an http(s) URL
 * without query or fragment is a UserFacingError naming the setting.
 */
export function mirrorBase(value: unknown): string | undefined {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return undefined;
  const invalid = (why: string) => new UserFacingError(`The setting ${MIRROR_SETTING} is ${JSON.stringify(value)}, which ${why}. Set it to the base URL of a mirror of ${OFFICIAL_RELEASES_PREFIX}, or clear it.`);
  if (typeof value !== 'string') throw invalid('is not text');
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw invalid('is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('is not an http(s) URL');
  // The release path is appended to it: a query or fragment would end up in the middle.
  if (url.search !== '' || url.hash !== '') throw invalid('has a query or fragment');
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

/**
 * The entry's sources with the official prefix replaced by the mirror's base
 * (`<mirror>/v8.3.0/FastSAM-s.pt`), in the same order; sources elsewhere stay
 * as they are. Without a mirror, the entry itself.
 */
export function withMirror(entry: ModelManifestEntry, base: string | undefined): ModelManifestEntry {
  if (base === undefined) return entry;
  const urls = entry.urls.map((u) => (u.startsWith(OFFICIAL_RELEASES_PREFIX) ? new URL(u.slice(OFFICIAL_RELEASES_PREFIX.length), base).href : u));
  return { ...entry, urls: [...new Set(urls)] };
}

/**
 * The proxy for downloads: VS Code's `http.proxy` when set (else the core reads
 * HTTPS_PROXY / HTTP_PROXY / ALL_PROXY), and as exceptions both `http.noProxy`
 * and NO_PROXY, since a user who set either expects those hosts reached directly.
 */
export function downloadProxySettings(http: { proxy?: unknown; noProxy?: unknown }, env: NodeJS.ProcessEnv): ProxySettings {
  const proxy = typeof http.proxy === 'string' && http.proxy.trim() !== '' ? http.proxy.trim() : undefined;
  const fromSettings = Array.isArray(http.noProxy) ? http.noProxy.filter((h): h is string => typeof h === 'string' && h.trim() !== '').map((h) => h.trim()) : [];
  const fromEnv = (env.no_proxy ?? env.NO_PROXY ?? '').trim();
  const noProxy = fromSettings.length > 0 ? [...fromSettings, ...(fromEnv !== '' ? [fromEnv] : [])].join(',') : undefined;
  return { env, ...(proxy !== undefined ? { proxy } : {}), ...(noProxy !== undefined ? { noProxy } : {}) };
}
