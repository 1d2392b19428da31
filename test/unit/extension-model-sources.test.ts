/**
 * Where the extension's model downloads come from and go through: the mirror
 * setting's URL rewriting and checks, and the proxy settings built from VS
 * Code's http.proxy / http.noProxy and the environment.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UserFacingError } from '../../src/core/errors';
import { MODEL_MANIFEST, findModel, parseManifest } from '../../src/core/models/manifest';
import { proxyForUrl } from '../../src/core/models/proxy';
import { downloadProxySettings, mirrorBase, OFFICIAL_RELEASES_PREFIX, withMirror } from '../../src/extension/model-sources';

describe('fastsam.modelDownloadMirror', () => {
  test('empty or unset: no mirror, the manifest entry as it is', () => {
    for (const value of [undefined, null, '', '   ']) assert.equal(mirrorBase(value), undefined);
    const entry = findModel('fastsam-s');
    assert.equal(withMirror(entry, undefined), entry);
  });

  test('replaces the official prefix of every source, keeping the tags and their order', () => {
    const entry = findModel('fastsam-s');
    assert.ok(entry.urls.every((u) => u.startsWith(OFFICIAL_RELEASES_PREFIX)), 'the shipped manifest downloads from the official releases');
    for (const mirror of ['http://127.0.0.1:8080/fastsam', 'http://127.0.0.1:8080/fastsam/']) {
      const mirrored = withMirror(entry, mirrorBase(mirror));
      assert.deepEqual(mirrored.urls, [
        'http://127.0.0.1:8080/fastsam/v8.3.0/FastSAM-s.pt',
        'http://127.0.0.1:8080/fastsam/v8.2.0/FastSAM-s.pt',
        'http://127.0.0.1:8080/fastsam/v8.1.0/FastSAM-s.pt',
      ]);
      // Everything else is the entry's.
      assert.deepEqual({ ...mirrored, urls: [] }, { ...entry, urls: [] });
    }
    assert.deepEqual(withMirror(findModel('fastsam-x'), mirrorBase('https://mirror.corp.example')).urls[0], 'https://mirror.corp.example/v8.3.0/FastSAM-x.pt');
  });

  test('sources elsewhere are kept; duplicates after rewriting are dropped', () => {
    const manifest = parseManifest({
      schemaVersion: 1,
      models: [
        {
          id: 'm',
          displayName: 'M',
          description: 'd',
          fileName: 'M.pt',
          format: 'pt',
          size: null,
          approximateSize: 1000,
          sha256: null,
          license: 'AGPL-3.0',
          licenseUrl: 'https://example.org/license',
          urls: [`${OFFICIAL_RELEASES_PREFIX}v1/M.pt`, 'https://huggingface.co/x/M.pt', `${OFFICIAL_RELEASES_PREFIX}v1/M.pt`],
        },
      ],
    });
    assert.deepEqual(withMirror(manifest.models[0]!, mirrorBase('http://m.example/a/')).urls, ['http://m.example/a/v1/M.pt', 'https://huggingface.co/x/M.pt']);
  });

  test('anything but an http(s) base URL is refused with a message naming the setting', () => {
    for (const [value, why] of [
      ['ftp://mirror.example/', /is not an http\(s\) URL/],
      ['mirror.example/assets', /is not a URL/],
      ['https://mirror.example/?token=1', /has a query or fragment/],
      [42, /is not text/],
    ] as const) {
      assert.throws(
        () => mirrorBase(value),
        (e: unknown) => e instanceof UserFacingError && e.message.startsWith(`The setting fastsam.modelDownloadMirror is ${JSON.stringify(value)}, which`) && why.test(e.message),
        String(value),
      );
    }
  });

  test('every model of the shipped manifest has sources the mirror replaces', () => {
    for (const entry of MODEL_MANIFEST.models) assert.ok(withMirror(entry, 'http://m/').urls.every((u) => u.startsWith('http://m/')), entry.id);
  });
});

describe('download proxy settings', () => {
  const github = new URL('https://github.com/ultralytics/assets/releases/download/v8.3.0/FastSAM-s.pt');
  const mirror = new URL('http://mirror.corp.example/v8.3.0/FastSAM-s.pt');

  test('http.proxy wins over the environment; unset, the environment decides', () => {
    const env = { HTTPS_PROXY: 'http://env-proxy:3128' };
    assert.equal(proxyForUrl(github, downloadProxySettings({ proxy: 'http://vscode-proxy:8080' }, env))?.host, 'vscode-proxy:8080');
    assert.equal(proxyForUrl(github, downloadProxySettings({ proxy: '' }, env))?.host, 'env-proxy:3128');
    assert.equal(proxyForUrl(github, downloadProxySettings({}, {})), null);
    assert.equal(downloadProxySettings({ proxy: '  ' }, {}).proxy, undefined);
  });

  test('http.noProxy and NO_PROXY both exempt their hosts', () => {
    const settings = downloadProxySettings({ proxy: 'http://p:1', noProxy: ['.corp.example'] }, { NO_PROXY: 'github.com' });
    assert.equal(proxyForUrl(mirror, settings), null);
    assert.equal(proxyForUrl(github, settings), null);
    assert.equal(proxyForUrl(new URL('https://objects.githubusercontent.com/x'), settings)?.host, 'p:1');
    // Without http.noProxy the core reads NO_PROXY itself.
    assert.equal(downloadProxySettings({ proxy: 'http://p:1', noProxy: [] }, { NO_PROXY: 'github.com' }).noProxy, undefined);
    assert.equal(proxyForUrl(github, downloadProxySettings({ proxy: 'http://p:1', noProxy: [] }, { NO_PROXY: 'github.com' })), null);
    // Junk in the setting is ignored.
    assert.equal(downloadProxySettings({ noProxy: ['', 3, ' a.example '] }, {}).noProxy, 'a.example');
  });
});
