import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import YAML from 'yaml';
import { buildProgram } from '../../src/cli/main.js';
import { listEnvVariables } from '../../src/config/index.js';
import { REPO_ROOT } from '../helpers/cli.js';

interface Service {
  command?: string[];
  image?: string;
  build?: string;
  environment?: Record<string, string>;
}

/** Resolves `args` against the CLI tree: the subcommand path must exist and every option must be declared. */
function checkAgainstCli(program: Command, args: string[]): string[] {
  const problems: string[] = [];
  let command = program;
  let i = 0;
  while (i < args.length && !args[i]!.startsWith('-')) {
    const next = command.commands.find((c) => c.name() === args[i]);
    if (!next) break;
    command = next;
    i++;
  }
  if (command === program) return [`"${args.join(' ')}" names no intentstream subcommand`];
  if (command.commands.length > 0)
    problems.push(`"${args.join(' ')}" stops at a command group (${command.name()})`);
  const known = new Set(
    [...command.options, ...program.options].flatMap((o) => [o.long, o.short].filter(Boolean)),
  );
  for (const arg of args.slice(i)) {
    if (arg.startsWith('-') && !known.has(arg.split('=')[0]!))
      problems.push(`${command.name()}: unknown option ${arg}`);
  }
  return problems;
}

describe('docker-compose.yml stays in sync with the CLI and config', () => {
  const compose = YAML.parse(readFileSync(`${REPO_ROOT}docker-compose.yml`, 'utf8'), { merge: true }) as {
    services: Record<string, Service>;
  };
  const ours = Object.entries(compose.services).filter(([, s]) => s.image === 'intentstream:local');

  it('pins the SeaweedFS image to the release scripts/s3 builds for the tests', () => {
    const release = /^WEED_RELEASE="([^"]+)"$/m.exec(readFileSync(`${REPO_ROOT}scripts/s3`, 'utf8'))?.[1];
    assert.ok(release, 'scripts/s3 names WEED_RELEASE');
    const seaweed = Object.entries(compose.services).filter(([, s]) =>
      s.image?.startsWith('chrislusf/seaweedfs'),
    );
    assert.ok(seaweed.length > 0, 'a SeaweedFS service');
    for (const [name, service] of seaweed)
      assert.equal(service.image, `chrislusf/seaweedfs:${release}`, `${name} runs the tested release`);
  });

  it('runs every pipeline process', () => {
    const commands = ours.map(([, s]) => s.command?.[0]);
    for (const required of ['ingest', 'score', 'trainer', 'generate', 'topics'])
      assert.ok(commands.includes(required), `no service runs ${required}`);
  });

  for (const [name, service] of Object.entries(compose.services).filter(
    ([, s]) => s.image === 'intentstream:local',
  )) {
    it(`service ${name}: command and environment are valid`, () => {
      assert.ok(service.command, `${name} has a command`);
      assert.deepEqual(checkAgainstCli(buildProgram(), service.command!), []);
      const variables = new Set(listEnvVariables().map((v) => v.name));
      for (const key of Object.keys(service.environment ?? {})) {
        if (key.startsWith('INTENTSTREAM_') || key === 'KAFKA_BROKERS') {
          assert.ok(variables.has(key), `${name}: ${key} is not a config variable`);
        }
      }
    });
  }
});
