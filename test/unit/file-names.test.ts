import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { baseName, fileNameList } from '../../src/shared/file-names';

describe('file names in export notices', () => {
  it('takes the last part of a path with either separator', () => {
    assert.equal(baseName('/home/user/a.mask.png'), 'a.mask.png');
    assert.equal(baseName('C:\\Users\\me\\a.coco.json'), 'a.coco.json');
    assert.equal(baseName('a.txt'), 'a.txt');
  });

  it('lists up to four names, and past four the first three and how many more', () => {
    const paths = ['a.mask.png', 'a.coco.json', 'a.txt', 'a.json', 'a.cutout.png'].map((f) => `/x/${f}`);
    assert.equal(fileNameList(paths.slice(0, 1)), 'a.mask.png');
    assert.equal(fileNameList(paths.slice(0, 4)), 'a.mask.png, a.coco.json, a.txt, a.json');
    assert.equal(fileNameList(paths), 'a.mask.png, a.coco.json, a.txt and 2 more');
  });
});
