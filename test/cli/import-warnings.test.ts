import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, snapshotDatabase, tempDir } from '../helpers/test-context.js';

/**
 * `secretsfly import` over files whose lines dotenv would silently cut, keep or drop: each is reported
 * with its line number, and nothing is written unless --allow-warnings.
 */
describe('import of surprising dotenv files', () => {
  let dataDir: string;
  let keyFile: string;
  const cli = (args: string[]) => runCli(args, { dataDir });
  const withKey = (args: string[]) => cli([...args, '--master-key-file', keyFile]);
  const envFile = (name: string, content: string) => {
    const file = path.join(tempDir(), `${name}.env`);
    fs.writeFileSync(file, content);
    return file;
  };

  beforeAll(async () => {
    dataDir = tempDir();
    keyFile = path.join(tempDir(), 'master.key');
    fs.writeFileSync(keyFile, 'a-chosen-master-key-0123456789');
    expect((await cli(['project', 'create', 'acme', '--master-key-file', keyFile])).code).toBe(0);
  });

  const cases: [what: string, content: string, line: number, key: string, says: RegExp][] = [
    ['an unquoted # inside a value', 'FIRST=1\nHASH_IN_VALUE=s3cretA#s3cretB\n', 2, 'HASH_IN_VALUE', /unquoted #/],
    ['an escaped quote', 'FIRST=1\n\nESCAPED="say \\"s3cretC\\""\n', 3, 'ESCAPED', /kept with its backslash/],
    ['an unclosed quote', 'UNCLOSED="s3cretD\nAFTER=2\n', 1, 'UNCLOSED', /never closed/],
    ['a line without =', 'FIRST=1\ns3cretE without an equals sign\n', 2, '', /not a KEY=value line/],
  ];

  for (const [what, content, line, key, says] of cases) {
    it(`should refuse the whole file when it has ${what}, naming the line and no value`, async () => {
      const file = envFile('surprising', content);
      const before = await snapshotDatabase(dataDir);
      const result = await withKey(['import', 'acme', 'prod', file]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${file}: line ${line}${key ? ` (${key})` : ''}: `);
      expect(result.stderr).toMatch(says);
      expect(result.stderr).toMatch(/nothing was imported: 1 surprising line\(s\).*--allow-warnings/);
      expect(result.stderr).not.toContain('s3cret');
      expect(result.stderr).not.toContain('equals sign');
      expect(await snapshotDatabase(dataDir)).toEqual(before);
    });
  }

  it('should import with --allow-warnings, still reporting each line, and store what dotenv read', async () => {
    const file = envFile('all', 'HASH_IN_VALUE=abc#def\nESCAPED="say \\"hi\\""\nnot an assignment\nUNCLOSED="abc\n');
    const result = await withKey(['import', 'acme', 'prod', file, '--allow-warnings', '--json']);
    expect(result.code).toBe(0);
    expect(result.stderr.split('\n').filter((l) => l.startsWith(`${file}: line`))).toHaveLength(4);
    const output = JSON.parse(result.stdout);
    expect(output.written).toEqual(['HASH_IN_VALUE', 'ESCAPED', 'UNCLOSED']);
    expect(output.warnings.map((w: { line: number }) => w.line)).toEqual([1, 2, 3, 4]);
    const get = async (key: string) => (await withKey(['secret', 'get', 'acme', 'prod', key])).stdout;
    expect(await get('HASH_IN_VALUE')).toBe('abc\n');
    expect(await get('ESCAPED')).toBe('say \\"hi\\"\n');
    expect(await get('UNCLOSED')).toBe('"abc\n');
  });

  it('should import an ordinary file without a word of warning', async () => {
    const file = envFile(
      'plain',
      '# comment\nexport P_A=1\nP_B="quoted # hash"\nP_C=value # trailing comment\nP_MULTI="x\ny"\n',
    );
    const result = await withKey(['import', 'acme', 'prod', file]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('imported 4 keys into acme/prod (0 unchanged)\n');
  });
});
