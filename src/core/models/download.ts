/**
 * Downloads one large file (a model checkpoint) safely:
 *
 * - into `<destination>.part`, renamed into place only once complete and
 *   verified (size, SHA-256), so the destination is never a partial file;
 * - resumable: validators (ETag / Last-Modified) and the source URL are kept in
 *   `<destination>.part.json`; the next attempt asks for the rest with `Range`
 *   and `If-Range`, and starts over cleanly when the server sends the whole file
 *   instead (it ignores ranges, or the file changed);
 * - retried with exponential backoff on network errors and 5xx / 408 / 429, not
 *   on other HTTP errors; 404 / 410 moves on to the next source URL;
 * - through a proxy when configured (./proxy), following redirects (GitHub
 *   release assets redirect to a CDN host);
 * - cancellable with an AbortSignal, leaving a resumable .part;
 * - guarded by a `<destination>.part.lock` so two processes never write one .part.
 *
 * It uses Node's http/https rather than fetch: inside VS Code the extension host
 * configures those modules' agents (system certificates, proxy resolution), and
 * socket errors keep their codes, which the offline message relies on.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CancelledError, UserFacingError } from '../errors';
import { describeWriteError, ensureFolder } from '../io/atomic-write';
import { type Logger, silentLogger } from '../logger';
import { type ProxySettings, proxyAgent, proxyForUrl } from './proxy';

export interface DownloadProgress {
  /** Bytes of the file on disk so far, including those of a resumed .part. */
  readonly bytes: number;
  /** The file's size, when the server says. */
  readonly total: number | null;
  /** 0..100, when the total is known. */
  readonly percent: number | null;
}

export type DownloadErrorCode = 'offline' | 'proxy' | 'http' | 'network' | 'tls' | 'size' | 'sha256' | 'busy';

export class DownloadError extends UserFacingError {
  override name = 'DownloadError';
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
    /** The HTTP status, for 'http'. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The verified file, about to be (or just) moved into place. */
export interface VerifiedDownload {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  /** The source URL it came from (before redirects). */
  readonly url: string;
}

export interface DownloadOptions extends ProxySettings {
  /** Sources, tried in order; the next one only when a source answers 404 or 410. */
  readonly urls: readonly string[];
  readonly destination: string;
  /** The exact size, when known. */
  readonly size?: number | null;
  /**
   * About how big the file is: a download less than half or more than twice
   * this is refused (a proxy's login page, an error page served with 200).
   */
  readonly approximateSize?: number;
  /** Lower-case hex SHA-256, when known. */
  readonly sha256?: string | null;
  readonly onProgress?: (progress: DownloadProgress) => void;
  readonly signal?: AbortSignal;
  /** Further attempts after a network error or a 5xx (default 3: waits of 1, 2 and 4 s). */
  readonly retries?: number;
  /** First backoff delay; it doubles with each retry (default 1000 ms). */
  readonly retryDelayMs?: number;
  /** A request with no data for this long fails as a network error (default 30 s). */
  readonly idleTimeoutMs?: number;
  readonly logger?: Logger;
  /** What the user can do instead, appended to failure messages. */
  readonly manualHint?: string;
  /** Runs after verification, before the .part is renamed into place (to record the hash first). */
  readonly beforePlace?: (file: VerifiedDownload) => Promise<void>;
}

export interface DownloadResult extends VerifiedDownload {
  /** Whether bytes of an earlier, interrupted download were reused. */
  readonly resumed: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;
const PROGRESS_INTERVAL_MS = 100;
/** Errors that mean the host could not be reached at all. */
const UNREACHABLE = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN', 'EHOSTDOWN']);
/** Errors writing the .part, reported as such rather than as download failures. */
const WRITE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'ENOENT']);
/** DNS answered that the name does not exist: waiting will not help. */
const PERMANENT = new Set(['ENOTFOUND', 'EAI_FAIL']);

interface PartMeta {
  readonly url: string;
  readonly etag: string | null;
  readonly lastModified: string | null;
  readonly total: number | null;
}

/** The server answered with a status this download cannot use. */
class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly statusText: string,
    readonly url: string,
  ) {
    super(`HTTP ${status}`);
  }
}

/** The connection (to the host or to the proxy) could not be made. */
class ConnectError extends Error {
  constructor(
    readonly code: string,
    readonly host: string,
    readonly proxy: URL | null,
  ) {
    super(code);
  }
}

/** Start over from byte 0 without counting an attempt (the server's range answer was unusable). */
class RestartDownload extends Error {}

const formatMB = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

export async function sha256File(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), async function* (chunks: AsyncIterable<Buffer>) {
    for await (const chunk of chunks) hash.update(chunk);
  }, { signal });
  return hash.digest('hex');
}

function isAbort(e: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true || (e as Error).name === 'AbortError' || e instanceof CancelledError;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new CancelledError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function fileSize(file: string): Promise<number | null> {
  try {
    return (await fs.stat(file)).size;
  } catch {
    return null;
  }
}

/** Takes the lock for a destination, or says who holds it; a lock whose process is gone is stale. */
async function lock(lockPath: string, label: string): Promise<() => Promise<void>> {
  for (let tries = 0; tries < 2; tries++) {
    try {
      await fs.writeFile(lockPath, String(process.pid), { flag: 'wx' });
      return () => fs.rm(lockPath, { force: true });
    } catch (e) {
      // The lock is the first file written: a read-only folder shows here.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw describeWriteError(e, lockPath);
      const pid = Number((await fs.readFile(lockPath, 'utf8').catch(() => '')).trim());
      let alive = false;
      if (Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (err) {
          alive = (err as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (alive) throw new DownloadError('busy', `${label} is already being downloaded by another process (pid ${pid})`);
      await fs.rm(lockPath, { force: true });
    }
  }
  throw new DownloadError('busy', `${label} is already being downloaded by another process`);
}

export async function downloadFile(options: DownloadOptions): Promise<DownloadResult> {
  const { destination, signal } = options;
  const label = path.basename(destination);
  const hint = options.manualHint ? ` ${options.manualHint}` : '';
  const logger = options.logger ?? silentLogger;
  if (options.urls.length === 0) throw new TypeError('downloadFile needs at least one URL');
  const retries = options.retries ?? 3;
  const retryDelay = options.retryDelayMs ?? 1000;
  const part = `${destination}.part`;
  const metaPath = `${destination}.part.json`;
  if (signal?.aborted) throw new CancelledError();
  await ensureFolder(path.dirname(destination));
  const unlock = await lock(`${destination}.part.lock`, label);

  const discardPart = async () => {
    await fs.rm(part, { force: true });
    await fs.rm(metaPath, { force: true });
  };

  try {
    for (const [urlIndex, url] of options.urls.entries()) {
      let failures = 0;
      for (;;) {
        try {
          const resumed = await attempt(url);
          return await verifyAndPlace(url, resumed);
        } catch (e) {
          if (isAbort(e, signal)) throw new CancelledError();
          if (e instanceof RestartDownload) {
            await discardPart();
            continue;
          }
          if (e instanceof HttpStatusError && (e.status === 404 || e.status === 410) && urlIndex < options.urls.length - 1) {
            logger.info(`${e.url} answered HTTP ${e.status}; trying ${options.urls[urlIndex + 1]}`);
            break;
          }
          if (!isRetryable(e) || failures >= retries) throw await describeFailure(e, failures + 1);
          const delay = retryDelay * 2 ** failures;
          failures++;
          logger.warn(`Downloading ${label}: ${reason(e)}; retrying in ${(delay / 1000).toFixed(1)} s (attempt ${failures + 1} of ${retries + 1})`);
          await sleep(delay, signal);
        }
      }
    }
    // The last source returns or throws: a 404 there is not skipped.
    throw new Error('unreachable');
  } finally {
    await unlock();
  }

  /** One request: resumes the .part when it can. Returns whether it resumed. */
  async function attempt(url: string): Promise<boolean> {
    const meta = await readMeta();
    const partBytes = (await fileSize(part)) ?? 0;
    let start = 0;
    if (meta && meta.url === url && partBytes > 0 && (meta.etag !== null || meta.lastModified !== null)) {
      start = partBytes;
      if (meta.total !== null && start === meta.total) return true; // complete: only verification was missing
      if (meta.total !== null && start > meta.total) throw new RestartDownload();
    } else if (meta !== null || partBytes > 0) {
      await discardPart();
    }

    const headers: Record<string, string> = { 'user-agent': 'fastsam-vscode', 'accept-encoding': 'identity' };
    if (start > 0) {
      headers.range = `bytes=${start}-`;
      // If-Range needs a strong ETag; a weak one falls back to the date.
      headers['if-range'] = meta!.etag !== null && !meta!.etag.startsWith('W/') ? meta!.etag : (meta!.lastModified ?? meta!.etag!);
    }
    const response = await get(url, headers);
    let total: number | null;
    let append = false;
    const length = headerNumber(response.headers['content-length']);
    if (response.statusCode === 206 && start > 0) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(response.headers['content-range'] ?? ''));
      if (!range || Number(range[1]) !== start) {
        response.resume();
        logger.info(`${label}: the server resumed at the wrong offset; starting over`);
        throw new RestartDownload();
      }
      total = range[3] === '*' ? null : Number(range[3]);
      append = true;
    } else if (response.statusCode === 200) {
      if (start > 0) logger.info(`${label}: the server sent the whole file instead of the rest (no range support, or the file changed); starting over`);
      total = length;
    } else if (response.statusCode === 416 && start > 0) {
      response.resume();
      const whole = /^bytes \*\/(\d+)$/.exec(String(response.headers['content-range'] ?? ''));
      if (whole && Number(whole[1]) === start) return true;
      throw new RestartDownload();
    } else {
      response.resume();
      throw new HttpStatusError(response.statusCode ?? 0, response.statusMessage ?? '', url);
    }
    if (total !== null) checkSize(total, 'The server offers');

    await fs.writeFile(metaPath, JSON.stringify({
      url,
      etag: headerString(response.headers.etag),
      lastModified: headerString(response.headers['last-modified']),
      total,
    } satisfies PartMeta));

    let bytes = append ? start : 0;
    let lastReport = 0;
    const report = (force: boolean) => {
      const now = performance.now();
      if (!force && now - lastReport < PROGRESS_INTERVAL_MS) return;
      lastReport = now;
      options.onProgress?.({ bytes, total, percent: total ? Math.min(100, (100 * bytes) / total) : null });
    };
    report(true);
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        report(false);
        done(null, chunk);
      },
    });
    await pipeline(response, counter, createWriteStream(part, { flags: append ? 'a' : 'w' }), { signal });
    report(true);
    if (total !== null && bytes < total) {
      throw Object.assign(new Error(`the connection closed after ${formatMB(bytes)} of ${formatMB(total)}`), { code: 'ECONNRESET' });
    }
    return append;
  }

  async function verifyAndPlace(url: string, resumed: boolean): Promise<DownloadResult> {
    const size = (await fileSize(part)) ?? 0;
    try {
      checkSize(size, 'The download has');
    } catch (e) {
      await discardPart();
      throw e;
    }
    const sha256 = await sha256File(part, signal);
    if (options.sha256 && sha256 !== options.sha256.toLowerCase()) {
      await discardPart();
      throw new DownloadError('sha256', `${label} was downloaded from ${url} but its SHA-256 is ${sha256}, not ${options.sha256}: the file is damaged or not the expected one, so it was deleted.${hint}`);
    }
    const verified: VerifiedDownload = { path: destination, size, sha256, url };
    await options.beforePlace?.(verified);
    await fs.rename(part, destination);
    await fs.rm(metaPath, { force: true });
    return { ...verified, resumed };
  }

  function checkSize(size: number, what: string): void {
    if (options.size != null && size !== options.size) {
      throw new DownloadError('size', `${what} ${size.toLocaleString('en-US')} bytes of ${label}; ${options.size.toLocaleString('en-US')} were expected, so it is not the expected file.${hint}`);
    }
    const approx = options.approximateSize;
    if (approx !== undefined && (size < approx / 2 || size > approx * 2)) {
      throw new DownloadError('size', `${what} ${formatMB(size)} for ${label}, which is about ${formatMB(approx)}: this is not the model file (a proxy or portal page?).${hint}`);
    }
  }

  async function readMeta(): Promise<PartMeta | null> {
    try {
      const m = JSON.parse(await fs.readFile(metaPath, 'utf8')) as Partial<PartMeta>;
      if (typeof m.url !== 'string') return null;
      return { url: m.url, etag: m.etag ?? null, lastModified: m.lastModified ?? null, total: typeof m.total === 'number' ? m.total : null };
    } catch {
      return null;
    }
  }

  /** GET following redirects; each hop picks its own proxy (or none, per NO_PROXY). */
  async function get(url: string, headers: Record<string, string>): Promise<http.IncomingMessage> {
    let target = new URL(url);
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const response = await send(target, headers);
      const location = response.headers.location;
      if (!REDIRECTS.has(response.statusCode ?? 0) || !location) return response;
      response.resume();
      target = new URL(location, target);
    }
    throw new DownloadError('http', `Downloading ${label}: more than ${MAX_REDIRECTS} redirects from ${url}.${hint}`);
  }

  function send(target: URL, headers: Record<string, string>): Promise<http.IncomingMessage> {
    if (target.protocol !== 'https:' && target.protocol !== 'http:') {
      return Promise.reject(new DownloadError('http', `Downloading ${label}: unsupported URL ${target.href}`));
    }
    const proxy = proxyForUrl(target, options);
    const agent = proxy ? proxyAgent(target, proxy) : undefined;
    const client = target.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      let responded = false;
      const request = client.request(target, { headers, agent, signal, timeout: options.idleTimeoutMs ?? 30_000 }, (response) => {
        responded = true;
        resolve(response);
      });
      request.on('timeout', () => request.destroy(Object.assign(new Error(`no data for ${(options.idleTimeoutMs ?? 30_000) / 1000} s`), { code: 'ETIMEDOUT' })));
      request.on('error', (e: NodeJS.ErrnoException) => {
        if (responded) return; // the response stream reports it
        const code = e.code ?? '';
        reject(UNREACHABLE.has(code) ? new ConnectError(code, target.hostname, proxy) : e);
      });
      request.end();
    });
  }

  async function describeFailure(e: unknown, attempts: number): Promise<unknown> {
    if (e instanceof ConnectError) {
      if (e.proxy) {
        return new DownloadError('proxy', `Cannot reach the proxy ${e.proxy.host} (${e.code}): check the proxy setting (http.proxy, HTTPS_PROXY).${hint}`);
      }
      return new DownloadError('offline', `Cannot reach ${e.host}: you appear to be offline.${hint}`);
    }
    if (e instanceof HttpStatusError) {
      const tried = options.urls.length > 1 && (e.status === 404 || e.status === 410) ? ` (none of its ${options.urls.length} sources has it)` : '';
      return new DownloadError('http', `Downloading ${label} failed: ${e.url} answered HTTP ${e.status}${e.statusText ? ` ${e.statusText}` : ''}${tried}.${hint}`, e.status);
    }
    if (e instanceof DownloadError) return e;
    if (isCertificateError(e)) {
      const code = (e as NodeJS.ErrnoException).code;
      return new DownloadError('tls', `Downloading ${label}: the server's certificate is not trusted (${code}); behind a TLS-inspecting proxy, add its certificate with NODE_EXTRA_CA_CERTS.${hint}`);
    }
    if (WRITE_CODES.has((e as NodeJS.ErrnoException).code ?? '')) return describeWriteError(e, part);
    if (isNetworkError(e)) {
      const kept = (await fileSize(part)) ?? 0;
      const keptText = kept > 0 ? ` ${formatMB(kept)} are kept: run the download again to resume.` : '';
      return new DownloadError('network', `Downloading ${label} failed ${attempts} times (${reason(e)}).${keptText}${hint}`);
    }
    return e;
  }
}

/** Transfer failures worth another attempt: the connection broke or stalled. */
const NETWORK_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'EPROTO', 'ERR_STREAM_PREMATURE_CLOSE']);

function isNetworkError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return e instanceof ConnectError || (typeof code === 'string' && (NETWORK_CODES.has(code) || code.startsWith('HPE_')));
}

/** Certificate failures: usually a TLS-inspecting proxy whose certificate Node does not trust. */
function isCertificateError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return /CERT|SIGNATURE|^ERR_TLS|^ERR_SSL/.test(code);
}

function isRetryable(e: unknown): boolean {
  if (e instanceof HttpStatusError) return e.status >= 500 || e.status === 408 || e.status === 429;
  // A proxy that refuses connections is misconfigured, not busy.
  if (e instanceof ConnectError) return !PERMANENT.has(e.code) && !(e.proxy && e.code === 'ECONNREFUSED');
  if (e instanceof DownloadError) return false;
  return isNetworkError(e);
}

function reason(e: unknown): string {
  if (e instanceof HttpStatusError) return `HTTP ${e.status}`;
  if (e instanceof ConnectError) return `${e.code} connecting to ${e.proxy ? `the proxy ${e.proxy.host}` : e.host}`;
  const code = (e as NodeJS.ErrnoException).code;
  return code ? `${code}: ${(e as Error).message}` : (e as Error).message;
}

function headerString(value: string | string[] | undefined): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function headerNumber(value: string | string[] | undefined): number | null {
  const n = typeof value === 'string' ? Number(value) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}
