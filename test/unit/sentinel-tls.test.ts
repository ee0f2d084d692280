import assert from 'node:assert/strict';
import { test } from 'node:test';
import { schemaCommand } from '../../src/commands/check.ts';
import { validateConfig } from '../../src/config/load.ts';
import { tlsRefusal } from '../../src/sentinel/tls.ts';

const withTls = (tls: unknown) => ({
  sentinels: { addresses: ['127.0.0.1:26379'], tls },
  masters: { m: [{ type: 'exec', run: ['/bin/true'] }] },
});

test('sentinels.tls: ca alone, or with cert and key and a servername, is accepted', () => {
  assert.deepEqual(validateConfig(withTls({ ca: '/etc/sentinel-hook/ca.pem' }), 'c.yaml').sentinels!.tls, {
    ca: '/etc/sentinel-hook/ca.pem',
  });
  const full = {
    ca: '/etc/sh/ca.pem',
    cert: '/etc/sh/hook.pem',
    key: '/etc/sh/hook.key',
    servername: 'sentinel.example.com',
  };
  assert.deepEqual(validateConfig(withTls(full), 'c.yaml').sentinels!.tls, full);
});

test('sentinels.tls: a half client certificate, no ca, a relative path, an IP servername or an "insecure" switch are refused, each on one line', () => {
  const bad: [unknown, RegExp][] = [
    [{ ca: '/ca.pem', cert: '/hook.pem' }, /^config c\.yaml: sentinels\.tls\.key: required with cert/],
    [{ ca: '/ca.pem', key: '/hook.key' }, /^config c\.yaml: sentinels\.tls\.cert: required with key/],
    [{ cert: '/hook.pem', key: '/hook.key' }, /^config c\.yaml: sentinels\.tls\.ca: required/],
    [{ ca: 'ca.pem' }, /sentinels\.tls\.ca: expected an absolute path/],
    [{ ca: '/ca.pem', servername: '10.0.0.1' }, /sentinels\.tls\.servername: expected a host name/],
    [{ ca: '/ca.pem', rejectUnauthorized: false }, /sentinels\.tls: unknown key "rejectUnauthorized"/],
    [{ ca: '/ca.pem', insecure: true }, /sentinels\.tls: unknown key "insecure"/],
    [true, /sentinels\.tls: expected a mapping, got true/],
  ];
  for (const [tls, message] of bad) {
    assert.throws(
      () => validateConfig(withTls(tls), 'c.yaml'),
      (err: Error & { exitCode?: number }) => {
        assert.equal(err.exitCode, 2);
        assert.match(err.message, message);
        assert.equal(err.message.split('\n').length, 1);
        return true;
      },
      JSON.stringify(tls),
    );
  }
});

test('sentinel-hook schema describes sentinels.tls, ca required', () => {
  const schema = JSON.parse(schemaCommand()) as {
    properties: { sentinels: { properties: { tls: { properties: object; required: string[] } } } };
  };
  const tls = schema.properties.sentinels.properties.tls;
  assert.deepEqual(Object.keys(tls.properties).sort(), ['ca', 'cert', 'key', 'servername']);
  assert.deepEqual(tls.required, ['ca']);
});

test('TLS failures a retry will not fix name their fix; a reset or a timeout is a Sentinel that did not answer', () => {
  const err = (code: string, message: string) => Object.assign(new Error(message), { code });
  const cases: [Error, RegExp | undefined][] = [
    [
      err('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'),
      /^TLS: unable to verify the first certificate → check sentinels\.tls\.ca$/,
    ],
    [err('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'), /→ check sentinels\.tls\.ca$/],
    [
      err('CERT_HAS_EXPIRED', 'certificate has expired'),
      /^TLS: certificate has expired → renew the Sentinel's certificate$/,
    ],
    [
      err('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"),
      /→ set sentinels\.tls\.servername/,
    ],
    [
      err(
        'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
        'C0:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../ssl/rec_layer_s3.c:1601:',
      ),
      /^TLS: the Sentinel refused our certificate \(tlsv13 alert certificate required\) → check sentinels\.tls\.cert and key/,
    ],
    [err('ECONNRESET', 'read ECONNRESET'), undefined],
    [new Error('no answer within 500 ms'), undefined],
  ];
  for (const [e, expected] of cases) {
    const r = tlsRefusal(e);
    if (expected === undefined) assert.equal(r, undefined, e.message);
    else assert.match(`${r?.error} → ${r?.fix}`, expected);
  }
});
