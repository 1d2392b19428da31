/**
 * The model downloader against a local HTTP server (and a local forwarding
 * proxy) on 127.0.0.1: progress, resume, servers that ignore ranges, retries,
 * HTTP errors, size and hash checks, cancellation, proxies, NO_PROXY, locks,
 * and the download records of model-files.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, promises as fs, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { CancelledError, ModelError } from '../../src/core/errors';
import { type DownloadOptions, type DownloadProgress, DownloadError, downloadFile } from '../../src/core/models/download';
import { parseManifest } from '../../src/core/models/manifest';
import { downloadModel, downloadRecordPath, modelFileStatus, verifyModelFile } from '../../src/core/models/model-files';
import { matchesNoProxy, proxyForUrl } from '../../src/core/models/proxy';

const BODY = randomBytes(300_000);
const SHA256 = createHash('sha256').update(BODY).digest('hex');
const ETAG = '"v1"';

interface Seen {
  path: string;
  range?: string;
  ifRange?: string;
}

let server: http.Server;
let base: string;
let seen: Seen[] = [];
/** Per-path counters for handlers that change behaviour between requests. */
const hits = new Map<string, number>();
/** Set by a test: /slow sends 50 kB, calls it, and stalls until the client goes away. */
let onSlowSent: (() => void) | undefined;

function sendFile(req: http.IncomingMessage, res: http.ServerResponse, etag: string, honourRange = true): void {
  const range = honourRange ? /^bytes=(\d+)-$/.exec(req.headers.range ?? '') : null;
  const ifRange = req.headers['if-range'];
  if (range && (ifRange === undefined || ifRange === etag)) {
    const start = Number(range[1]);
    if (start >= BODY.length) {
      res.writeHead(416, { 'content-range': `bytes */${BODY.length}` }).end();
      return;
    }
    res.writeHead(206, { 'content-length': BODY.length - start, 'content-range': `bytes ${start}-${BODY.length - 1}/${BODY.length}`, etag });
    res.end(BODY.subarray(start));
    return;
  }
  res.writeHead(200, { 'content-length': BODY.length, etag, 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT' });
  res.end(BODY);
}

before(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://localhost');
    seen.push({ path: url.pathname, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined });
    const n = (hits.get(url.pathname) ?? 0) + 1;
    hits.set(url.pathname, n);
    switch (url.pathname) {
      case '/file':
        return sendFile(req, res, ETAG);
      case '/redirect':
        return void res.writeHead(302, { location: '/file' }).end();
      case '/ignore-range':
        return sendFile(req, res, ETAG, false);
      case '/changed':
        return sendFile(req, res, `"v${n}"`);
      case '/flaky':
        if (n <= 2) return void res.writeHead(503).end('busy');
        return sendFile(req, res, ETAG);
      case '/down':
        return void res.writeHead(500).end('broken');
      case '/missing':
        return void res.writeHead(404).end('not here');
      case '/cut':
        // The first answer stops a third of the way through.
        if (n === 1) {
          res.writeHead(200, { 'content-length': BODY.length, etag: ETAG });
          res.write(BODY.subarray(0, 100_000), () => setTimeout(() => res.destroy(), 20));
          return;
        }
        return sendFile(req, res, ETAG);
      case '/slow':
        if (onSlowSent === undefined) return sendFile(req, res, ETAG);
        res.writeHead(200, { 'content-length': BODY.length, etag: ETAG });
        res.write(BODY.subarray(0, 50_000), onSlowSent);
        return;
      default:
        res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

beforeEach(() => {
  seen = [];
  hits.clear();
  onSlowSent = undefined;
});

function folder(): string {
  return mkdtempSync(path.join(tmpdir(), 'fastsam-download-'));
}

/** Test defaults: no waiting between retries, no proxy from the environment. */
function options(dir: string, urls: string[], extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return { urls, destination: path.join(dir, 'model.pt'), retryDelayMs: 5, env: {}, ...extra };
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('downloadFile', () => {
  test('downloads, reports progress up to 100 %, verifies and places the file', async () => {
    const dir = folder();
    const progress: DownloadProgress[] = [];
    const result = await downloadFile(options(dir, [`${base}/file`], { sha256: SHA256, size: BODY.length, onProgress: (p) => progress.push(p) }));
    assert.deepEqual(readFileSync(result.path), BODY);
    assert.equal(result.sha256, SHA256);
    assert.equal(result.resumed, false);
    assert.ok(progress.length >= 2);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.bytes >= progress[i - 1]!.bytes);
    assert.deepEqual(progress.at(-1), { bytes: BODY.length, total: BODY.length, percent: 100 });
    assert.deepEqual(await fs.readdir(dir), ['model.pt'], 'no .part, .part.json or lock left behind');
  });

  test('follows redirects', async () => {
    const dir = folder();
    const result = await downloadFile(options(dir, [`${base}/redirect`]));
    assert.deepEqual(readFileSync(result.path), BODY);
    assert.deepEqual(seen.map((s) => s.path), ['/redirect', '/file']);
  });

  test('resumes an interrupted transfer with Range and If-Range', async () => {
    const dir = folder();
    const warnings: string[] = [];
    const result = await downloadFile(options(dir, [`${base}/cut`], { sha256: SHA256, logger: { info: () => {}, warn: (m) => warnings.push(m) } }));
    assert.deepEqual(readFileSync(result.path), BODY);
    assert.equal(result.resumed, true);
    assert.equal(seen.length, 2);
    assert.equal(seen[0]!.range, undefined);
    assert.equal(seen[1]!.range, 'bytes=100000-');
    assert.equal(seen[1]!.ifRange, ETAG);
    assert.match(warnings[0]!, /retrying/);
  });

  test('starts over cleanly when the server ignores Range', async () => {
    const dir = folder();
    const destination = path.join(dir, 'model.pt');
    writeFileSync(`${destination}.part`, BODY.subarray(0, 1000));
    writeFileSync(`${destination}.part.json`, JSON.stringify({ url: `${base}/ignore-range`, etag: ETAG, lastModified: null, total: BODY.length }));
    const result = await downloadFile(options(dir, [`${base}/ignore-range`], { sha256: SHA256 }));
    assert.equal(seen[0]!.range, 'bytes=1000-');
    assert.equal(result.resumed, false);
    assert.deepEqual(readFileSync(result.path), BODY, 'the whole file once, not appended to the part');
  });

  test('starts over when the file changed since the partial download (If-Range fails)', async () => {
    const dir = folder();
    const destination = path.join(dir, 'model.pt');
    writeFileSync(`${destination}.part`, Buffer.alloc(5000, 7));
    writeFileSync(`${destination}.part.json`, JSON.stringify({ url: `${base}/changed`, etag: '"v0"', lastModified: null, total: BODY.length }));
    const result = await downloadFile(options(dir, [`${base}/changed`], { sha256: SHA256 }));
    assert.equal(seen[0]!.ifRange, '"v0"');
    assert.deepEqual(readFileSync(result.path), BODY);
  });

  test('a partial download from another source is discarded', async () => {
    const dir = folder();
    const destination = path.join(dir, 'model.pt');
    writeFileSync(`${destination}.part`, Buffer.alloc(5000, 7));
    writeFileSync(`${destination}.part.json`, JSON.stringify({ url: `${base}/elsewhere`, etag: ETAG, lastModified: null, total: BODY.length }));
    const result = await downloadFile(options(dir, [`${base}/file`], { sha256: SHA256 }));
    assert.equal(seen[0]!.range, undefined);
    assert.deepEqual(readFileSync(result.path), BODY);
  });

  test('a complete .part whose verification was interrupted is verified without downloading again', async () => {
    const dir = folder();
    const destination = path.join(dir, 'model.pt');
    writeFileSync(`${destination}.part`, BODY);
    writeFileSync(`${destination}.part.json`, JSON.stringify({ url: `${base}/file`, etag: ETAG, lastModified: null, total: BODY.length }));
    const result = await downloadFile(options(dir, [`${base}/file`], { sha256: SHA256 }));
    assert.equal(seen.length, 0);
    assert.deepEqual(readFileSync(result.path), BODY);
  });

  test('404 is not retried; it moves on to the next source', async () => {
    const dir = folder();
    await assert.rejects(downloadFile(options(dir, [`${base}/missing`])), (e: unknown) => {
      assert.ok(e instanceof DownloadError);
      assert.equal(e.code, 'http');
      assert.equal(e.status, 404);
      assert.match(e.message, /^Downloading model\.pt failed: http:\/\/127\.0\.0\.1:\d+\/missing answered HTTP 404 Not Found\.$/);
      return true;
    });
    assert.equal(seen.length, 1);

    seen = [];
    const result = await downloadFile(options(dir, [`${base}/missing`, `${base}/file`], { sha256: SHA256 }));
    assert.deepEqual(seen.map((s) => s.path), ['/missing', '/file']);
    assert.equal(result.url, `${base}/file`);
  });

  test('5xx is retried with backoff until it succeeds, or until retries run out', async () => {
    const dir = folder();
    const warnings: string[] = [];
    const result = await downloadFile(options(dir, [`${base}/flaky`], { sha256: SHA256, logger: { info: () => {}, warn: (m) => warnings.push(m) } }));
    assert.deepEqual(readFileSync(result.path), BODY);
    assert.equal(seen.length, 3);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /HTTP 503; retrying in 0\.0 s \(attempt 2 of 4\)/);

    seen = [];
    await assert.rejects(downloadFile(options(folder(), [`${base}/down`], { retries: 2 })), (e: unknown) => e instanceof DownloadError && e.status === 500);
    assert.equal(seen.length, 3);
  });

  test('a file of the wrong size is refused and deleted', async () => {
    const dir = folder();
    await assert.rejects(downloadFile(options(dir, [`${base}/file`], { size: BODY.length + 1 })), (e: unknown) => {
      assert.ok(e instanceof DownloadError);
      assert.equal(e.code, 'size');
      assert.match(e.message, /The server offers 300,000 bytes of model\.pt; 300,001 were expected/);
      return true;
    });
    // A page far from the expected size (a proxy's login page) is refused too.
    await assert.rejects(downloadFile(options(dir, [`${base}/file`], { approximateSize: 24e6 })), /The server offers 0\.3 MB for model\.pt, which is about 24\.0 MB: this is not the model file/);
    assert.deepEqual(await fs.readdir(dir), []);
  });

  test('a file with the wrong SHA-256 is refused and deleted', async () => {
    const dir = folder();
    await assert.rejects(downloadFile(options(dir, [`${base}/file`], { sha256: '0'.repeat(64) })), (e: unknown) => {
      assert.ok(e instanceof DownloadError);
      assert.equal(e.code, 'sha256');
      assert.match(e.message, new RegExp(`its SHA-256 is ${SHA256}, not 0{64}`));
      return true;
    });
    assert.deepEqual(await fs.readdir(dir), []);
  });

  test('cancellation mid-download leaves only a resumable .part, which the next download resumes', async () => {
    const dir = folder();
    const controller = new AbortController();
    // Cancel once the first 50 kB had time to reach the file.
    onSlowSent = () => setTimeout(() => controller.abort(), 300);
    await assert.rejects(downloadFile(options(dir, [`${base}/slow`], { signal: controller.signal })), (e: unknown) => e instanceof CancelledError);
    const destination = path.join(dir, 'model.pt');
    assert.equal(existsSync(destination), false);
    assert.equal((await fs.stat(`${destination}.part`)).size, 50_000);
    assert.deepEqual((await fs.readdir(dir)).sort(), ['model.pt.part', 'model.pt.part.json']);

    onSlowSent = undefined;
    seen = [];
    const result = await downloadFile(options(dir, [`${base}/slow`], { sha256: SHA256 }));
    assert.equal(seen[0]!.range, 'bytes=50000-');
    assert.equal(result.resumed, true);
    assert.deepEqual(readFileSync(destination), BODY);
  });

  test('offline: one clear line naming the host and what to do instead', async () => {
    const port = await closedPort();
    await assert.rejects(
      downloadFile(options(folder(), [`http://127.0.0.1:${port}/FastSAM-s.pt`], { retries: 1, manualHint: 'Download FastSAM-s.pt elsewhere and set fastsam.modelPath to it.' })),
      (e: unknown) => {
        assert.ok(e instanceof DownloadError);
        assert.equal(e.code, 'offline');
        assert.equal(e.message, 'Cannot reach 127.0.0.1: you appear to be offline. Download FastSAM-s.pt elsewhere and set fastsam.modelPath to it.');
        return true;
      },
    );
  });

  test('a live lock means another process is downloading; a stale one is taken over', async () => {
    const dir = folder();
    const destination = path.join(dir, 'model.pt');
    writeFileSync(`${destination}.part.lock`, String(process.pid));
    await assert.rejects(downloadFile(options(dir, [`${base}/file`])), (e: unknown) => e instanceof DownloadError && e.code === 'busy');
    const exited = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(`${destination}.part.lock`, String(exited));
    await downloadFile(options(dir, [`${base}/file`], { sha256: SHA256 }));
    assert.deepEqual(await fs.readdir(dir), ['model.pt']);
  });
});

describe('downloads through a proxy', () => {
  let proxy: http.Server;
  let proxyUrl: string;
  let proxied: string[];
  let tunnels: string[];

  before(async () => {
    // A tiny forwarding proxy: absolute-form requests for http, CONNECT (refused here) for https.
    proxy = http.createServer((req, res) => {
      proxied.push(req.url!);
      const upstream = http.request(req.url!, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
      tunnels.push(req.url!);
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });

  after(() => {
    proxy.closeAllConnections();
    proxy.close();
  });

  beforeEach(() => {
    proxied = [];
    tunnels = [];
  });

  test('an explicit proxy carries the request', async () => {
    const result = await downloadFile(options(folder(), [`${base}/file`], { proxy: proxyUrl, sha256: SHA256 }));
    assert.deepEqual(readFileSync(result.path), BODY);
    assert.deepEqual(proxied, [`${base}/file`]);
  });

  test('HTTP_PROXY from the environment is used, and NO_PROXY bypasses it', async () => {
    await downloadFile(options(folder(), [`${base}/file`], { env: { HTTP_PROXY: proxyUrl } }));
    assert.deepEqual(proxied, [`${base}/file`]);

    proxied = [];
    await downloadFile(options(folder(), [`${base}/file`], { env: { HTTP_PROXY: proxyUrl, NO_PROXY: 'localhost,127.0.0.1' } }));
    assert.deepEqual(proxied, []);
    assert.equal(seen.length, 2, 'the second download went straight to the server');
  });

  test('https goes through a CONNECT tunnel (here refused by the proxy)', async () => {
    await assert.rejects(
      downloadFile(options(folder(), ['https://example.invalid/FastSAM-s.pt'], { env: { HTTPS_PROXY: proxyUrl } })),
      (e: unknown) => e instanceof DownloadError && e.code === 'http' && e.status === 403,
    );
    assert.deepEqual(tunnels, ['example.invalid:443']);
  });

  test('an unreachable proxy is named as such', async () => {
    const port = await closedPort();
    await assert.rejects(downloadFile(options(folder(), [`${base}/file`], { proxy: `http://127.0.0.1:${port}`, retries: 0 })), (e: unknown) => {
      assert.ok(e instanceof DownloadError);
      assert.equal(e.code, 'proxy');
      assert.match(e.message, new RegExp(`^Cannot reach the proxy 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
      return true;
    });
  });
});

describe('proxy selection', () => {
  const url = (u: string) => new URL(u);

  test('NO_PROXY entries match hosts, subdomains, ports and *', () => {
    assert.equal(matchesNoProxy(url('https://github.com/x'), 'github.com'), true);
    assert.equal(matchesNoProxy(url('https://objects.github.com/x'), '.github.com'), true);
    assert.equal(matchesNoProxy(url('https://objects.github.com/x'), 'github.com'), true);
    assert.equal(matchesNoProxy(url('https://notgithub.com/x'), 'github.com'), false);
    // As in curl, a leading "." (or "*.") is ignored: the domain and its subdomains match.
    assert.equal(matchesNoProxy(url('https://github.com/x'), 'example.org, *.github.com'), true);
    assert.equal(matchesNoProxy(url('https://a.github.com/x'), 'example.org *.github.com'), true);
    assert.equal(matchesNoProxy(url('http://127.0.0.1:8080/x'), '127.0.0.1:8080'), true);
    assert.equal(matchesNoProxy(url('http://127.0.0.1:9090/x'), '127.0.0.1:8080'), false);
    assert.equal(matchesNoProxy(url('https://github.com/x'), 'github.com:443'), true);
    assert.equal(matchesNoProxy(url('http://[::1]:8080/x'), '[::1]:8080'), true);
    assert.equal(matchesNoProxy(url('http://[::1]/x'), '::1'), true);
    assert.equal(matchesNoProxy(url('https://anything/x'), '*'), true);
    assert.equal(matchesNoProxy(url('https://github.com/x'), ''), false);
  });

  test('explicit proxy, then the scheme’s variable, then ALL_PROXY; NO_PROXY wins over all', () => {
    const target = url('https://github.com/x');
    assert.equal(proxyForUrl(target, { env: {} }), null);
    assert.equal(proxyForUrl(target, { env: { HTTPS_PROXY: 'proxy:3128' } })?.href, 'http://proxy:3128/');
    assert.equal(proxyForUrl(target, { env: { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:2' } })?.host, 'lower:1');
    assert.equal(proxyForUrl(target, { env: { HTTP_PROXY: 'http://plain:1' } }), null, 'HTTP_PROXY is for http URLs');
    assert.equal(proxyForUrl(url('http://example.org/'), { env: { HTTP_PROXY: 'http://plain:1' } })?.host, 'plain:1');
    assert.equal(proxyForUrl(target, { env: { ALL_PROXY: 'http://all:1' } })?.host, 'all:1');
    assert.equal(proxyForUrl(target, { proxy: 'http://vscode:8080', env: { HTTPS_PROXY: 'http://env:1' } })?.host, 'vscode:8080');
    assert.equal(proxyForUrl(target, { proxy: 'http://vscode:8080', env: { NO_PROXY: 'github.com' } }), null);
    assert.equal(proxyForUrl(target, { proxy: 'http://vscode:8080', noProxy: '', env: { NO_PROXY: 'github.com' } })?.host, 'vscode:8080');
    assert.throws(() => proxyForUrl(target, { proxy: 'socks5://x:1', env: {} }), /unsupported proxy scheme/);
  });
});

describe('downloadModel and download records', () => {
  const manifest = () =>
    parseManifest({
      schemaVersion: 1,
      models: [{
        id: 'test-model', displayName: 'Test model', description: 'a test', fileName: 'Test.pt', format: 'pt', size: null,
        approximateSize: BODY.length, sha256: null, license: 'AGPL-3.0', licenseUrl: 'https://example.org/license',
        urls: [`${base}/missing`, `${base}/file`],
      }],
    }).models[0]!;

  test('downloads once, records size and SHA-256, then verifies instead of downloading again', async () => {
    const dir = folder();
    const entry = manifest();
    assert.equal((await modelFileStatus(entry, dir)).state, 'missing');
    const first = await downloadModel(entry, dir, { env: {}, retryDelayMs: 5 });
    assert.equal(first.alreadyPresent, false);
    assert.equal(first.path, path.join(dir, 'Test.pt'));
    assert.deepEqual(
      { ...first.record, downloadedAt: undefined },
      { schemaVersion: 1, modelId: 'test-model', size: BODY.length, sha256: SHA256, url: `${base}/file`, downloadedAt: undefined },
    );
    assert.deepEqual(JSON.parse(readFileSync(downloadRecordPath(first.path), 'utf8')), first.record);
    assert.equal((await modelFileStatus(entry, dir)).state, 'ready');

    seen = [];
    const second = await downloadModel(entry, dir, { env: {} });
    assert.equal(second.alreadyPresent, true);
    assert.equal(seen.length, 0);
    assert.deepEqual(await verifyModelFile(first.path), first.record);
  });

  test('a recorded file that changed on disk fails verification', async () => {
    const dir = folder();
    const { path: file } = await downloadModel(manifest(), dir, { env: {}, retryDelayMs: 5 });
    const changed = Buffer.from(BODY);
    changed[1234] ^= 1;
    writeFileSync(file, changed);
    await assert.rejects(verifyModelFile(file), (e: unknown) => e instanceof ModelError && /no longer has the SHA-256 it had when it was downloaded/.test(e.message));
    writeFileSync(file, BODY.subarray(1));
    await assert.rejects(verifyModelFile(file), /has 299,999 bytes but had 300,000 when it was downloaded/);
    await assert.rejects(downloadModel(manifest(), dir, { env: {} }), ModelError);
  });

  test('a partial download shows as partial, and the offline message names the model', async () => {
    const dir = folder();
    writeFileSync(path.join(dir, 'Test.pt.part'), BODY.subarray(0, 10));
    const status = await modelFileStatus(manifest(), dir);
    assert.deepEqual([status.state, status.partialBytes], ['partial', 10]);
    const port = await closedPort();
    const offline = { ...manifest(), urls: [`http://127.0.0.1:${port}/Test.pt`] };
    await assert.rejects(downloadModel(offline, dir, { env: {}, retries: 0 }), {
      message: 'Cannot reach 127.0.0.1: you appear to be offline. Download Test.pt elsewhere and set fastsam.modelPath to it.',
    });
  });
});
