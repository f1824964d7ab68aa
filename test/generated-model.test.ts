import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../src/config/paths.js';
import { botocoreVersion, operations, shapes } from '../src/generated/athena-model.js';

describe('generated model', () => {
  it('is current with the pinned botocore', async () => {
    const script = join(projectRoot, 'dist', 'scripts', 'generate-model.js');
    await promisify(execFile)(process.execPath, [script, '--check']).catch((error: { stderr?: string }) => {
      assert.fail(`src/generated/athena-model.ts is stale: ${error.stderr ?? String(error)}`);
    });
  });

  it('comes from the botocore that requirements.in pins', async () => {
    const { readFile } = await import('node:fs/promises');
    const pinned = /^botocore==(\S+)/m.exec(await readFile(join(projectRoot, 'requirements.in'), 'utf8'))?.[1];
    assert.equal(botocoreVersion, pinned);
  });

  it('names every shape an operation or member refers to', () => {
    for (const [name, op] of Object.entries(operations)) {
      for (const ref of [op.input, op.output, ...op.errors]) {
        if (ref !== null) assert.ok(shapes[ref], `${name} refers to ${ref}`);
      }
    }
    for (const [name, shape] of Object.entries(shapes)) {
      const refs =
        shape.type === 'structure' ? Object.values(shape.members) : shape.type === 'list' ? [shape.member] : shape.type === 'map' ? [shape.key, shape.value] : [];
      for (const ref of refs) assert.ok(shapes[ref], `${name} refers to ${ref}`);
    }
  });
});
