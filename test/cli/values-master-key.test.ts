import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, snapshotDatabase, tempDir } from '../helpers/test-context.js';

/** A chosen master key must be usable everywhere, HTTP headers included: printable ASCII only. */
describe('chosen master keys', () => {
  let dataDir: string;
  let work: string;
  const cli = (args: string[]) => runCli(args, { dataDir });
  const keyFile = (name: string, key: string) => {
    const file = path.join(work, name);
    fs.writeFileSync(file, key);
    return file;
  };
  const goodKey = 'a-good-ascii-master-key-!#$%&*+~';

  beforeAll(async () => {
    dataDir = tempDir();
    work = tempDir();
    expect((await cli(['project', 'create', 'acme', '--master-key-file', keyFile('good', goodKey)])).code).toBe(0);
  });

  const refused: [what: string, key: string, reason: RegExp][] = [
    ['accented letters', 'pässwörd-lång-enough-1', /outside printable ASCII/],
    ['an emoji', `key-${'x'.repeat(12)}-🔐`, /outside printable ASCII/],
    ['a no-break space', `nbsp\u00a0${'x'.repeat(16)}`, /white space/],
    ['a DEL control character', `del\u007f${'x'.repeat(16)}`, /outside printable ASCII/],
  ];

  for (const [what, key, reason] of refused) {
    it(`should refuse a new root whose chosen key holds ${what}, saying why and creating nothing`, async () => {
      const before = await snapshotDatabase(dataDir);
      const result = await cli(['project', 'create', 'other', '--master-key-file', keyFile('bad', key)]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/printable ASCII/);
      expect(result.stderr).toMatch(reason);
      expect(result.stderr).not.toContain(key);
      expect(await snapshotDatabase(dataDir)).toEqual(before);
    });
  }

  it('should refuse rotating to a non-ASCII key, leaving the old key in place', async () => {
    const before = await snapshotDatabase(dataDir);
    const result = await cli([
      'rotate',
      'acme',
      '--master-key-file',
      path.join(work, 'good'),
      '--new-master-key-file',
      keyFile('new-bad', 'nouvelle-clé-maîtresse-0123'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/outside printable ASCII/);
    expect(await snapshotDatabase(dataDir)).toEqual(before);
    const set = await cli(['secret', 'set', 'acme', 'prod', 'K', 'v', '--master-key-file', path.join(work, 'good')]);
    expect(set.code, set.stderr).toBe(0);
  });
});
