import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';

import { EXECUTION_PROVIDER_CHOICES } from '../../src/core/model/segmentation-model';
import { DEFAULT_SETTINGS, EXECUTION_PROVIDERS, IMAGE_SIZE_CHOICES, readSettings, resolveModelPath } from '../../src/extension/settings';

const source = (values: Record<string, unknown>) => ({ get: (key: string) => values[key] });

function read(values: Record<string, unknown>, context = {}) {
  const warnings: string[] = [];
  const settings = readSettings(source(values), (m) => warnings.push(m), context);
  return { settings, warnings };
}

describe('readSettings', () => {
  test('unset values are the defaults, without warnings', () => {
    assert.deepEqual(read({}), { settings: DEFAULT_SETTINGS, warnings: [] });
  });

  test('valid values are taken as they are', () => {
    const values = { imageSize: 640, confidence: 0, iou: 1, executionProvider: 'cpu', maxDetections: 1000, segmentOnOpen: false };
    const { settings, warnings } = read(values);
    assert.deepEqual(warnings, []);
    assert.deepEqual(settings, { ...values, modelPath: undefined });
  });

  test('each invalid value falls back to its default with one warning naming the setting', () => {
    const invalid: Record<string, unknown> = {
      imageSize: 800,
      confidence: 1.5,
      iou: '0.5',
      executionProvider: 'tpu',
      maxDetections: 2.5,
      segmentOnOpen: 'yes',
      modelPath: 42,
    };
    const { settings, warnings } = read(invalid);
    assert.deepEqual(settings, DEFAULT_SETTINGS);
    assert.equal(warnings.length, Object.keys(invalid).length);
    for (const key of Object.keys(invalid)) {
      assert.ok(warnings.some((w) => w.startsWith(`Setting fastsam.${key} is `)), `no warning for ${key}: ${warnings.join('\n')}`);
    }
    assert.ok(warnings.includes('Setting fastsam.confidence is 1.5, which is not a number from 0 to 1; using 0.4.'));
    assert.ok(warnings.includes('Setting fastsam.modelPath is 42, which is not a file path; using none.'));
  });

  test('an empty model path means none is configured', () => {
    assert.equal(read({ modelPath: '' }).settings.modelPath, undefined);
    assert.equal(read({ modelPath: '   ' }).settings.modelPath, undefined);
  });

  test('model paths: absolute, ~, and relative to the workspace folder', () => {
    const ctx = { workspaceFolder: '/work/project', homeDir: '/home/me' };
    assert.equal(read({ modelPath: ' /models/FastSAM-s.onnx ' }, ctx).settings.modelPath, '/models/FastSAM-s.onnx');
    assert.equal(resolveModelPath('~/models/m.onnx', ctx), '/home/me/models/m.onnx');
    assert.equal(resolveModelPath('models/m.onnx', ctx), '/work/project/models/m.onnx');
    assert.equal(resolveModelPath('../shared/m.onnx', ctx), '/work/shared/m.onnx');
    assert.equal(resolveModelPath('models/m.onnx', { homeDir: '/home/me' }), path.normalize('models/m.onnx'));
  });
});

describe('settings agree with their declarations', () => {
  const pkg = JSON.parse(readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as {
    contributes: { configuration: { properties: Record<string, { default?: unknown; enum?: unknown[]; minimum?: number; maximum?: number; scope?: string }> } };
  };
  const props = pkg.contributes.configuration.properties;

  test('the provider list is the model module’s', () => {
    assert.deepEqual(EXECUTION_PROVIDERS, EXECUTION_PROVIDER_CHOICES);
  });

  test('package.json declares the same defaults and choices', () => {
    assert.equal(props['fastsam.modelPath']?.default, '');
    assert.equal(props['fastsam.modelPath']?.scope, 'machine-overridable');
    for (const key of ['imageSize', 'confidence', 'iou', 'executionProvider', 'maxDetections', 'segmentOnOpen'] as const) {
      assert.deepEqual(props[`fastsam.${key}`]?.default, DEFAULT_SETTINGS[key], key);
    }
    assert.deepEqual(props['fastsam.imageSize']?.enum, [...IMAGE_SIZE_CHOICES]);
    assert.deepEqual(props['fastsam.executionProvider']?.enum, [...EXECUTION_PROVIDERS]);
    assert.deepEqual([props['fastsam.maxDetections']?.minimum, props['fastsam.maxDetections']?.maximum], [1, 1000]);
    for (const key of ['confidence', 'iou']) assert.deepEqual([props[`fastsam.${key}`]?.minimum, props[`fastsam.${key}`]?.maximum], [0, 1]);
  });
});
