// Spark Connect over TLS with an Athena-shaped EndpointUrl: the settings, Owlet's own certificate authority,
// and the proxy serving TLS in front of a stand-in for a driver's Spark Connect server, on the fake engine.
// test/python/test_spark_connect_tls.py runs a real pyspark client against real PySpark on port 443.
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetSessionEndpointCommand, GetSessionStatusCommand, StartSessionCommand, TerminateSessionCommand } from '@aws-sdk/client-athena';
import { loadConfig } from '../src/config/config.js';
import { CA_CERTIFICATE_FILE, issueFromLocalAuthority } from '../src/connect/tls-identity.js';
import { FakeEngine } from '../src/engine/fake-engine.js';
import { eventually } from './assertions.js';
import { type TestOwlet, startTestOwlet } from './harness.js';
import { call, DRIVER_TOKEN, FakeConnectServer } from './support/spark-connect.js';

describe('the Spark Connect settings', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'owlet-connect-settings-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const load = (env: Record<string, string>) =>
    loadConfig({ dataDir, host: '127.0.0.1' }, { OWLET_ACCESS_KEY_ID: 'AKIDCONNECTTLS000001', OWLET_SECRET_ACCESS_KEY: 'secret', ...env });
  const connectOf = (env: Record<string, string>) => {
    const { connectHost, connectPublicUrl, connectTls } = load(env);
    return { connectHost, connectPublicUrl, connectTls };
  };

  it('are cleartext, on the API\'s address, with the listening address as EndpointUrl, by default', () => {
    assert.deepEqual(connectOf({}), { connectHost: undefined, connectPublicUrl: undefined, connectTls: undefined });
  });

  it('take a public URL as Athena answers it, https://<host>, or as sc://<host>:<port>', () => {
    assert.equal(connectOf({ OWLET_CONNECT_PUBLIC_URL: 'https://owlet.example.com' }).connectPublicUrl, 'https://owlet.example.com');
    // Clients append ":443/" to it: a trailing slash would break their connection string.
    assert.equal(connectOf({ OWLET_CONNECT_PUBLIC_URL: 'https://Owlet.Example.com/' }).connectPublicUrl, 'https://owlet.example.com');
    assert.equal(connectOf({ OWLET_CONNECT_PUBLIC_URL: 'sc://10.0.0.5:15002' }).connectPublicUrl, 'sc://10.0.0.5:15002');
    assert.throws(() => load({ OWLET_CONNECT_PUBLIC_URL: 'https://owlet.example.com:8443' }), /must be https:\/\/<host> .*: Athena's clients add :443 themselves$/);
    for (const wrong of ['http://owlet.example.com', 'https://owlet.example.com/connect', 'sc://owlet.example.com', 'owlet.example.com']) {
      assert.throws(() => load({ OWLET_CONNECT_PUBLIC_URL: wrong }), new RegExp(`OWLET_CONNECT_PUBLIC_URL must be https://<host> .* not '${wrong}'$`));
    }
  });

  it('issue the certificate of TLS from Owlet\'s authority for the names clients dial, unless files are given', () => {
    assert.deepEqual(connectOf({ OWLET_CONNECT_TLS: 'true', OWLET_CONNECT_HOST: '127.0.0.7', OWLET_CONNECT_PUBLIC_URL: 'https://127.0.0.7' }), {
      connectHost: '127.0.0.7',
      connectPublicUrl: 'https://127.0.0.7',
      connectTls: { localCaNames: ['127.0.0.7', 'localhost', '127.0.0.1', '::1'] },
    });
    assert.deepEqual(connectOf({ OWLET_CONNECT_TLS: 'true', OWLET_CONNECT_PUBLIC_URL: 'https://owlet.example.com' }).connectTls, {
      localCaNames: ['owlet.example.com', '127.0.0.1', 'localhost', '::1'],
    });
    assert.deepEqual(connectOf({ OWLET_CONNECT_TLS: 'true', OWLET_CONNECT_TLS_NAMES: 'owlet.internal, 10.1.2.3' }).connectTls, {
      localCaNames: ['owlet.internal', '10.1.2.3'],
    });
    assert.deepEqual(connectOf({ OWLET_CONNECT_TLS_CERT: 'cert.pem', OWLET_CONNECT_TLS_KEY: '/etc/owlet/key.pem' }).connectTls, {
      certFile: join(process.cwd(), 'cert.pem'),
      keyFile: '/etc/owlet/key.pem',
    });
    assert.throws(() => load({ OWLET_CONNECT_TLS_CERT: 'cert.pem' }), /^Error: set both OWLET_CONNECT_TLS_CERT and OWLET_CONNECT_TLS_KEY, or neither$/);
    assert.throws(() => load({ OWLET_CONNECT_TLS: 'false', OWLET_CONNECT_TLS_CERT: 'c', OWLET_CONNECT_TLS_KEY: 'k' }), /OWLET_CONNECT_TLS is false, but/);
    assert.throws(() => load({ OWLET_CONNECT_TLS: 'maybe' }), /OWLET_CONNECT_TLS must be true or false, not 'maybe'/);
  });
});

describe('Owlet\'s certificate authority for Spark Connect', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'owlet-connect-ca-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('is generated once into the data directory and kept; each server certificate it issues verifies against it', async () => {
    const first = await issueFromLocalAuthority(dataDir, ['127.0.0.9', 'owlet.local', '::1'], Date.now());
    assert.equal(first.caCreated, true);
    assert.equal(first.caFile, join(dataDir, CA_CERTIFICATE_FILE));
    const caText = readFileSync(first.caFile, 'utf8');
    assert.equal(statSync(join(dataDir, 'connect-ca-key.pem')).mode & 0o777, 0o600, 'the key is the owner\'s only');
    const second = await issueFromLocalAuthority(dataDir, ['localhost'], Date.now());
    assert.equal(second.caCreated, false);
    assert.equal(readFileSync(second.caFile, 'utf8'), caText, 'the same authority signs again');

    const ca = new X509Certificate(caText);
    assert.equal(ca.ca, true);
    for (const [issued, names] of [[first, ['127.0.0.9', 'owlet.local', '::1']], [second, ['localhost']]] as const) {
      const [leaf, chained] = issued.identity.cert.split(/(?<=-----END CERTIFICATE-----)\s*/).filter((p) => p !== '');
      const server = new X509Certificate(leaf!);
      assert.equal(new X509Certificate(chained!).fingerprint256, ca.fingerprint256, 'the chain ends with the authority');
      assert.equal(server.ca, false);
      assert.ok(server.checkIssued(ca) && server.verify(ca.publicKey), 'signed by the authority');
      assert.ok(server.checkPrivateKey(createPrivateKey(issued.identity.key)), 'the key is the certificate\'s');
      for (const name of names) assert.ok(isIP(name) ? server.checkIP(name) : server.checkHost(name), name);
      assert.equal(server.checkHost('elsewhere.example'), undefined);
    }
  });

  it('is refused with what to do when its files are damaged', async () => {
    const damaged = mkdtempSync(join(tmpdir(), 'owlet-connect-ca-damaged-'));
    try {
      await issueFromLocalAuthority(damaged, ['localhost'], Date.now());
      writeFileSync(join(damaged, 'connect-ca-key.pem'), 'not a key');
      await assert.rejects(issueFromLocalAuthority(damaged, ['localhost'], Date.now()), /are not Owlet's Spark Connect certificate authority .*delete both to have a new one generated/);
    } finally {
      rmSync(damaged, { recursive: true, force: true });
    }
  });
});

describe('Spark Connect over TLS behind an Athena-shaped EndpointUrl, on the fake engine', () => {
  let owlet: TestOwlet;
  const fakeConnect = new FakeConnectServer();
  const engine = new FakeEngine();
  let ca: Buffer;

  before(async () => {
    engine.connect = { port: await fakeConnect.listen(), token: DRIVER_TOKEN };
    owlet = await startTestOwlet({
      engine,
      config: { connectTls: { localCaNames: ['localhost', '127.0.0.1'] }, connectPublicUrl: 'https://localhost' },
    });
    ca = readFileSync(owlet.connectCaFile!);
  });
  after(async () => {
    await owlet.stop();
    await fakeConnect.close();
  });

  it('answers GetSessionEndpoint with the public URL and forwards calls over TLS, Athena\'s extra metadata dropped', async () => {
    const athena = owlet.client();
    const id = (await athena.send(new StartSessionCommand({ WorkGroup: 'spark', EngineConfiguration: {} }))).SessionId!;
    await eventually(async () => (await athena.send(new GetSessionStatusCommand({ SessionId: id }))).Status?.State, (s) => s === 'IDLE', 'IDLE');
    assert.equal(owlet.connectCaFile, join(owlet.dataDir, CA_CERTIFICATE_FILE));
    const { EndpointUrl, AuthToken } = await athena.send(new GetSessionEndpointCommand({ SessionId: id }));
    assert.equal(EndpointUrl, 'https://localhost');
    const proxy = `https://127.0.0.1:${owlet.connectPort}`;
    const trusted = { ca, servername: 'localhost' };

    const answered = await call(
      proxy,
      '/spark.connect.SparkConnectService/ExecutePlan',
      { 'x-aws-proxy-auth': AuthToken!, 'x-aws-proxy-port': '15002', 'x-aws-force-h2': 'true', 'x-custom': 'kept' },
      Buffer.from('hello'),
      trusted,
    );
    assert.equal(answered.status, '0');
    assert.equal(answered.body.subarray(0, 5).toString(), 'hello');
    const reached = fakeConnect.calls.at(-1)!;
    assert.equal(reached.authorization, `Bearer ${DRIVER_TOKEN}`);
    for (const dropped of ['x-aws-proxy-auth', 'x-aws-proxy-port', 'x-aws-force-h2']) assert.equal(reached[dropped], undefined, dropped);
    assert.equal(reached['x-custom'], 'kept');

    const wrong = await call(proxy, '/Echo', { 'x-aws-proxy-auth': 'not-a-token', 'x-aws-proxy-port': '15002' }, undefined, trusted);
    assert.deepEqual([wrong.status, wrong.message], ['16', 'The Spark Connect token is not valid. Call GetSessionEndpoint for a new one.']);
    const missing = await call(proxy, '/Echo', {}, undefined, trusted);
    assert.equal(missing.status, '16');
    assert.match(missing.message!, /connect to sc:\/\/localhost:443\/;use_ssl=true;x-aws-proxy-auth=<AuthToken>\.$/);
    // The IP address is one of the certificate's names too.
    assert.equal((await call(proxy, '/Echo', { 'x-aws-proxy-auth': AuthToken! }, undefined, { ca })).status, '0');

    // A client that does not trust the authority, or dials a name the certificate lacks, stops at the handshake.
    await assert.rejects(call(proxy, '/Echo', { 'x-aws-proxy-auth': AuthToken! }, undefined, { servername: 'localhost' }), /certificate/);
    await assert.rejects(call(proxy, '/Echo', { 'x-aws-proxy-auth': AuthToken! }, undefined, { ca, servername: 'elsewhere.example' }), /elsewhere\.example/);
    // Cleartext HTTP/2 is not served beside TLS.
    const cleartext = await call(`sc://127.0.0.1:${owlet.connectPort}`, '/Echo', { 'x-aws-proxy-auth': AuthToken! }).catch(() => undefined);
    assert.equal(cleartext?.status, undefined, 'no gRPC answer over cleartext');
    await athena.send(new TerminateSessionCommand({ SessionId: id }));
  });
});

describe('Spark Connect over TLS with a certificate of the user\'s', () => {
  it('serves the files the settings name, and refuses a key that is not the certificate\'s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'owlet-connect-files-'));
    try {
      const [one, other] = [await issueFromLocalAuthority(join(dir, 'one'), ['localhost'], Date.now()), await issueFromLocalAuthority(join(dir, 'other'), ['localhost'], Date.now())];
      writeFileSync(join(dir, 'cert.pem'), one.identity.cert);
      writeFileSync(join(dir, 'key.pem'), one.identity.key);
      writeFileSync(join(dir, 'other-key.pem'), other.identity.key);
      const owlet = await startTestOwlet({ config: { connectTls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } } });
      try {
        assert.equal(owlet.connectCaFile, undefined, 'no authority of Owlet\'s is involved');
        assert.equal(owlet.connectEndpoint, `sc://127.0.0.1:${owlet.connectPort}`);
        const refused = await call(owlet.connectEndpoint, '/Echo', {}, undefined, { ca: readFileSync(one.caFile), servername: 'localhost' });
        assert.equal(refused.status, '16', 'TLS works; the call has no token');
      } finally {
        await owlet.stop();
      }
      await assert.rejects(
        // A data directory inside the test's: a server that fails to start leaves it behind.
        startTestOwlet({ dataDir: join(dir, 'refused'), config: { connectTls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'other-key.pem') } } }),
        /^Error: the certificate and key of Spark Connect over TLS cannot be used together: /,
      );
      await assert.rejects(
        startTestOwlet({ dataDir: join(dir, 'missing'), config: { connectTls: { certFile: join(dir, 'missing.pem'), keyFile: join(dir, 'key.pem') } } }),
        /^Error: cannot read the Spark Connect TLS certificate .*missing\.pem/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
