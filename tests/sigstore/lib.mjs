// Offline keyless signing with @sigstore/mock: a mock Fulcio (with a CT log) and Rekor served on
// 127.0.0.1, @sigstore/sign as the client, and helpers that rebuild a Rekor entry (SET,
// inclusion proof, checkpoint) with the mock Rekor's key, for negative fixtures.
// ../shared/supply-chain-formats.md §7.1 describes the flow and its gotchas.
import crypto from 'node:crypto';
import http from 'node:http';
import { initializeCA, initializeCTLog, initializeTLog, fulcioHandler, rekorHandler } from '@sigstore/mock';
import { DSSEBundleBuilder, FulcioSigner, RekorWitness } from '@sigstore/sign';
import { bundleToJSON } from '@sigstore/bundle';

export const ISSUER_V1_OID = '1.3.6.1.4.1.57264.1.1';

export function keyPair() {
  return crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

export function spki(publicKey) {
  return publicKey.export({ format: 'der', type: 'spki' });
}

const sha256 = (...parts) => {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

// Starts a mock Fulcio + CT log + Rekor on 127.0.0.1:<ephemeral>. caClock/tlogClock pin the
// certificate's and the log's times (Date; default now). withCT false: leaves carry no SCT.
export async function startMock({ caClock, tlogClock, withCT = true } = {}) {
  const caKey = keyPair();
  const ctKey = keyPair();
  const rekorKey = keyPair();
  const ctlog = withCT ? await initializeCTLog(ctKey, caClock) : undefined;
  const ca = await initializeCA(caKey, ctlog, caClock);
  const handlers = new Map();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const h = handlers.get(req.url.split('?')[0]);
      if (!h) {
        res.writeHead(404).end('not found');
        return;
      }
      const { statusCode, response, contentType } = await h(Buffer.concat(chunks).toString());
      res.writeHead(statusCode, { 'Content-Type': contentType || 'application/json' });
      res.end(response);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  const tlog = await initializeTLog(url, rekorKey, tlogClock);
  const f = fulcioHandler(ca, { strict: true });
  const r = rekorHandler(tlog, { strict: true });
  handlers.set(f.path, f.fn);
  handlers.set(r.path, r.fn);
  return {
    url, ca, ctlog, tlog, caKey, ctKey, rekorKey, withCT,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

function b64url(obj) {
  return Buffer.from(JSON.stringify(obj)).toString('base64url');
}

// An unsigned JWT the mock Fulcio accepts (gotcha 1: no email claim, so no email_verified).
export function token(issuer, subject) {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ iss: issuer, sub: subject, aud: 'sigstore' })}.`;
}

// An in-toto Statement v1 with one subject.
export function statement({ digest, name = 'image', predicateType, predicate }) {
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name, digest: { sha256: digest.replace(/^sha256:/, '') } }],
    predicateType,
    predicate: predicate ?? {},
  };
}

// Signs a Statement through the mock: a Sigstore bundle v0.3 (JSON object) with a DSSE envelope
// and an intoto 0.0.2 Rekor entry (gotcha 4).
export async function signStatement(mock, { issuer, subject, stmt }) {
  const signer = new FulcioSigner({
    fulcioBaseURL: mock.url,
    identityProvider: { getToken: async () => token(issuer, subject) },
  });
  const witness = new RekorWitness({ rekorBaseURL: mock.url, entryType: 'intoto' });
  const builder = new DSSEBundleBuilder({ signer, witnesses: [witness] });
  const bundle = await builder.create({
    data: Buffer.from(JSON.stringify(stmt)),
    type: 'application/vnd.in-toto+json',
  });
  return bundleToJSON(bundle);
}

function rfc3339(d) {
  return new Date(d).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function logEntry(key, start, url) {
  const der = spki(key.publicKey);
  return {
    baseUrl: url,
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: der.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: rfc3339(start) } },
    logId: { keyId: sha256(der).toString('base64') },
  };
}

// The trusted root for the mock (§7.1 "Trusted root for tests"): tlogs[0] the Rekor key,
// ctlogs[0] the CT key, certificateAuthorities[0] the CA root, all valid from start.
// caEnd: an end for the CA's validFor; noCT: omit the CT logs.
export function trustedRoot(mock, { start, caEnd, noCT = false } = {}) {
  const ca = {
    subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
    uri: mock.url,
    certChain: { certificates: [{ rawBytes: Buffer.from(mock.ca.rootCertificate).toString('base64') }] },
    validFor: { start: rfc3339(start) },
  };
  if (caEnd) ca.validFor.end = rfc3339(caEnd);
  return {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [logEntry(mock.rekorKey, start, mock.url)],
    certificateAuthorities: [ca],
    ctlogs: noCT || !mock.withCT ? [] : [logEntry(mock.ctKey, start, mock.url)],
    timestampAuthorities: [],
  };
}

// ---- rebuilding a Rekor entry with the mock Rekor's key ----

const leafHash = (body) => sha256(Buffer.from([0]), body);
const nodeHash = (l, r) => sha256(Buffer.from([1]), l, r);

// RFC 6962 Merkle tree hash of leaves (leaf hashes).
function mth(leaves) {
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

// RFC 6962 audit path of leaf m in leaves.
function path(m, leaves) {
  if (leaves.length === 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  if (m < k) return [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))];
  return [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

export function signCheckpoint(mock, logId, treeSize, root, timestamp) {
  const host = new URL(mock.url).host;
  const note = [`${host} - 1234`, `${treeSize}`, root.toString('base64'), `Timestamp: ${timestamp * 1_000_000_000}`, ''].join('\n');
  const sig = crypto.sign('sha256', Buffer.from(note), mock.rekorKey.privateKey);
  return `${note}\n\u2014 ${host} ${Buffer.concat([logId.subarray(0, 4), sig]).toString('base64')}\n`;
}

// Re-logs a bundle's tlogEntries[0] (in place): optional new body (Buffer) and integratedTime,
// a fresh SET, and an inclusion proof at index of a tree of treeSize leaves (the other leaves
// random), with its checkpoint signed by the mock Rekor key.
export function relog(mock, entry, { body, integratedTime, index = 0, treeSize = 1 } = {}) {
  if (body) entry.canonicalizedBody = body.toString('base64');
  if (integratedTime !== undefined) entry.integratedTime = String(integratedTime);
  const b = Buffer.from(entry.canonicalizedBody, 'base64');
  const logId = Buffer.from(entry.logId.keyId, 'base64');
  const t = Number(entry.integratedTime);
  const setData = `{"body":"${b.toString('base64')}","integratedTime":${t},"logID":"${logId.toString('hex')}","logIndex":${Number(entry.logIndex)}}`;
  entry.inclusionPromise = {
    signedEntryTimestamp: crypto.sign('sha256', Buffer.from(setData), mock.rekorKey.privateKey).toString('base64'),
  };
  const leaves = [];
  for (let i = 0; i < treeSize; i++) leaves.push(i === index ? leafHash(b) : leafHash(crypto.randomBytes(40)));
  const root = mth(leaves);
  const proof = { rootHash: root.toString('base64'), treeSize: String(treeSize) };
  if (index) proof.logIndex = String(index);
  const hashes = path(index, leaves).map((h) => h.toString('base64'));
  if (hashes.length) proof.hashes = hashes;
  proof.checkpoint = { envelope: signCheckpoint(mock, logId, treeSize, root, t) };
  entry.inclusionProof = proof;
  return entry;
}
