import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/test-context.js';

// Tests run as root, which writes through any permission bits; a file where a directory should be
// stops root as it stops anyone, and is what a mistyped or half-mounted DATA_DIR looks like.
describe('a DATA_DIR that cannot be used', () => {
  const blocked = () => {
    const file = path.join(tempDir(), 'not-a-directory');
    fs.writeFileSync(file, 'a regular file\n');
    return { file, under: path.join(file, 'data') };
  };

  it('should fail with one line naming DATA_DIR when a part of its path is a file', async () => {
    const { file, under } = blocked();
    for (const args of [['project', 'create', 'acme'], ['migrate'], ['serve'], ['project', 'list']]) {
      const result = await runCli(args, { dataDir: under, env: { PORT: '0' } });
      expect(result.code, args.join(' ')).toBe(1);
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0], args.join(' ')).toContain(under);
      expect(lines[0], args.join(' ')).not.toContain('unexpected');
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('a regular file\n');
  }, 60_000);

  it('should fail the same way when DATA_DIR itself is a file', async () => {
    const { file } = blocked();
    for (const args of [['project', 'create', 'acme'], ['serve']]) {
      const result = await runCli(args, { dataDir: file, env: { PORT: '0' } });
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
      expect(result.stderr, args.join(' ')).toContain(`DATA_DIR ${file}`);
      expect(result.stderr, args.join(' ')).not.toContain('unexpected');
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('a regular file\n');
  }, 60_000);
});
