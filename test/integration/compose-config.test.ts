/**
 * docker-compose.yml as Docker Compose itself loads it (scripts/compose-config: compose-go, with
 * schema validation, interpolation and YAML merge keys resolved), where no Docker engine runs: it
 * loads; the services built from this repository store on the bucket the stack creates, at the port
 * SeaweedFS serves S3 on; the Kafka clients name the broker's advertised listener; every service of
 * ours starts after the broker is healthy and the bucket exists; a file with an unknown key is
 * refused with the key named. (test/unit/compose.test.ts checks commands and variables against the CLI.)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/cli.js';

const run = promisify(execFile);
const COMPOSE_CONFIG = join(REPO_ROOT, 'scripts/compose-config');

interface Service {
  image?: string;
  command?: string[] | null;
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }>;
}
interface Project {
  services: Record<string, Service>;
}

async function load(file: string): Promise<Project> {
  // The first call builds the checker (Go module download and build: up to minutes on a cold cache).
  const { stdout } = await run(COMPOSE_CONFIG, [file], { maxBuffer: 16 * 1024 * 1024, timeout: 600_000 });
  return JSON.parse(stdout) as Project;
}

let project: Project;
before(async () => {
  project = await load(join(REPO_ROOT, 'docker-compose.yml'));
});

const ours = () =>
  Object.entries(project.services).filter(
    ([, s]) => s.image === 'intentstream:local' && s.command?.[0] !== 'topics',
  );

/** The services `name` waits for, directly or through others, with the condition of each wait. */
function dependencies(name: string, seen = new Map<string, string>()): Map<string, string> {
  for (const [dep, { condition }] of Object.entries(project.services[name]?.depends_on ?? {})) {
    if (seen.has(dep)) continue;
    seen.set(dep, condition);
    dependencies(dep, seen);
  }
  return seen;
}

describe('docker-compose.yml as Docker Compose loads it', { timeout: 660_000 }, () => {
  it('puts every service of ours on the bucket the stack creates, at the port SeaweedFS serves S3 on', () => {
    const seaweed = project.services['seaweedfs']!.command!.join(' ');
    const s3Port = /-s3\.port=(\d+)/.exec(seaweed)?.[1];
    const bucket = /s3\.bucket\.create -name ([\w.-]+)/.exec(
      project.services['buckets']!.command!.join(' '),
    )?.[1];
    assert.ok(s3Port && bucket, `seaweedfs command: ${seaweed}`);
    const services = ours();
    assert.deepEqual(services.map(([name]) => name).sort(), ['ingest', 'scorer', 'trainer']);
    for (const [name, service] of services) {
      const env = service.environment ?? {};
      assert.equal(env['INTENTSTREAM_STORAGE__BACKEND'], 's3', name);
      assert.equal(env['INTENTSTREAM_STORAGE__S3__ENDPOINT'], `http://seaweedfs:${s3Port}`, name);
      assert.equal(env['INTENTSTREAM_STORAGE__S3__BUCKET'], bucket, name);
      assert.ok(env['AWS_ACCESS_KEY_ID'] && env['AWS_SECRET_ACCESS_KEY'], `${name} has S3 credentials`);
    }
  });

  it('points the Kafka clients at the broker it advertises, and starts them after it and the bucket', () => {
    const advertised = project.services['kafka']!.environment!['KAFKA_ADVERTISED_LISTENERS']!;
    const broker = /PLAINTEXT:\/\/([^,]+)/.exec(advertised)?.[1];
    for (const name of ['topics', 'ingest', 'scorer']) {
      assert.equal(project.services[name]!.environment?.['KAFKA_BROKERS'], broker, name);
    }
    for (const [name] of [...ours(), ['topics']]) {
      const waits = dependencies(name!);
      assert.equal(waits.get('kafka'), 'service_healthy', `${name} waits for a healthy broker`);
      assert.equal(waits.get('buckets'), 'service_completed_successfully', `${name} waits for the bucket`);
    }
  });

  it('refuses a file with an unknown key, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'compose-'));
    try {
      const text = readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
      const file = join(dir, 'docker-compose.yml');
      writeFileSync(file, text.replace(/^ {2}scorer:\n/m, '  scorer:\n    restartt: always\n'));
      await assert.rejects(load(file), (error: Error & { stderr?: string }) => {
        assert.match(error.stderr ?? '', /services\.scorer\.restartt/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
