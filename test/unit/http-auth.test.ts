import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, redactSecrets } from '../../src/config/index.js';
import { createRouteGuard, isLoopback, resolveHttpToken } from '../../src/metrics/http-auth.js';

const req = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } });

describe('route guard for POST /train', () => {
  it('knows loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost'])
      assert.ok(isLoopback(h), `${h} is loopback`);
    for (const h of ['0.0.0.0', '10.0.0.5', '::', 'example.com', '127.0.0.1.evil']) {
      assert.ok(!isLoopback(h), `${h} is not loopback`);
    }
  });

  const table: {
    name: string;
    host: string;
    token: string | null;
    auth?: string;
    want: true | 401 | 403;
  }[] = [
    { name: 'loopback, no token: open', host: '127.0.0.1', token: null, want: true },
    { name: 'all interfaces, no token: disabled', host: '0.0.0.0', token: null, want: 403 },
    {
      name: 'all interfaces, no token, even with a header',
      host: '0.0.0.0',
      token: null,
      auth: 'Bearer x',
      want: 403,
    },
    { name: 'token, right bearer', host: '0.0.0.0', token: 's3cret', auth: 'Bearer s3cret', want: true },
    {
      name: 'token, scheme is case-insensitive',
      host: '0.0.0.0',
      token: 's3cret',
      auth: 'bearer s3cret',
      want: true,
    },
    { name: 'token, wrong bearer', host: '0.0.0.0', token: 's3cret', auth: 'Bearer s3cre', want: 401 },
    { name: 'token, longer bearer', host: '0.0.0.0', token: 's3cret', auth: 'Bearer s3cret0', want: 401 },
    { name: 'token, basic scheme', host: '0.0.0.0', token: 's3cret', auth: 'Basic czNjcmV0', want: 401 },
    { name: 'token, no header', host: '0.0.0.0', token: 's3cret', want: 401 },
    { name: 'token on loopback is still required', host: '127.0.0.1', token: 's3cret', want: 401 },
  ];
  for (const c of table) {
    it(c.name, () => {
      const verdict = createRouteGuard(c.host, c.token).check(req(c.auth));
      if (c.want === true) assert.deepEqual(verdict, { ok: true });
      else {
        assert.equal(verdict.ok, false);
        assert.equal(!verdict.ok && verdict.status, c.want);
      }
    });
  }

  it('403 says how to enable the route', () => {
    const verdict = createRouteGuard('0.0.0.0', null).check(req());
    assert.ok(
      !verdict.ok && /http\.token.*INTENTSTREAM_HTTP__TOKEN/.test(verdict.error),
      JSON.stringify(verdict),
    );
  });
});

describe('secrets in config', () => {
  it('reads the token from a file (trailing newline trimmed) and names the field when it cannot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'http-token-'));
    writeFileSync(join(dir, 'token'), 'abc123\n');
    writeFileSync(join(dir, 'empty'), '\n');
    assert.equal(resolveHttpToken({ token: null, tokenFile: join(dir, 'token') }), 'abc123');
    assert.equal(resolveHttpToken({ token: 'direct', tokenFile: null }), 'direct');
    assert.equal(resolveHttpToken({ token: null, tokenFile: null }), null);
    assert.throws(
      () => resolveHttpToken({ token: null, tokenFile: join(dir, 'missing') }),
      (e: unknown) =>
        e instanceof ConfigError && /http\.tokenFile: cannot read .*missing \(ENOENT\)/.test(e.message),
    );
    assert.throws(
      () => resolveHttpToken({ token: null, tokenFile: join(dir, 'empty') }),
      (e: unknown) => e instanceof ConfigError && /http\.tokenFile: .* is empty/.test(e.message),
    );
  });

  it('a numeric secret from the environment stays a string; redaction hides every set secret', () => {
    const config = loadConfig({
      env: {
        INTENTSTREAM_HTTP__TOKEN: '123456',
        INTENTSTREAM_KAFKA__SASL__MECHANISM: 'scram-sha-512',
        INTENTSTREAM_KAFKA__SASL__USERNAME: 'svc',
        INTENTSTREAM_KAFKA__SASL__PASSWORD: '0042',
      },
    });
    assert.equal(config.http.token, '123456');
    assert.equal(config.kafka.sasl.password, '0042');
    const shown = redactSecrets(config);
    assert.equal(shown.http.token, '<redacted>');
    assert.equal(shown.kafka.sasl.password, '<redacted>');
    assert.equal(shown.kafka.sasl.username, 'svc');
    assert.equal(config.kafka.sasl.password, '0042', 'redaction must not touch the original');
    assert.equal(redactSecrets(loadConfig({ env: {} })).http.token, null, 'unset secrets stay null');
  });

  it('SASL config fails naming the field', () => {
    const fails = (env: NodeJS.ProcessEnv, field: RegExp) =>
      assert.throws(
        () => loadConfig({ env }),
        (e: unknown) => e instanceof ConfigError && field.test(e.message),
      );
    fails({ INTENTSTREAM_KAFKA__SASL__MECHANISM: 'scram-sha-256' }, /kafka\.sasl\.username: required/);
    fails(
      { INTENTSTREAM_KAFKA__SASL__MECHANISM: 'plain', INTENTSTREAM_KAFKA__SASL__USERNAME: 'u' },
      /kafka\.sasl\.password: set exactly one of password/,
    );
    fails(
      {
        INTENTSTREAM_KAFKA__SASL__MECHANISM: 'plain',
        INTENTSTREAM_KAFKA__SASL__USERNAME: 'u',
        INTENTSTREAM_KAFKA__SASL__PASSWORD: 'p',
        INTENTSTREAM_KAFKA__SASL__PASSWORD_FILE: '/run/secrets/p',
      },
      /kafka\.sasl\.passwordFile: set exactly one/,
    );
    fails({ INTENTSTREAM_KAFKA__SASL__MECHANISM: 'gssapi' }, /kafka\.sasl\.mechanism/);
    fails(
      { INTENTSTREAM_KAFKA__TLS__CERT_FILE: '/c.pem' },
      /kafka\.tls\.keyFile: certFile and keyFile go together/,
    );
  });
});
