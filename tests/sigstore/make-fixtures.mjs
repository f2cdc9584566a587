#!/usr/bin/env node
// Regenerates tests/fixtures/verify/keyless/ (bundles, trusted roots, cases.json) with the mock
// Fulcio/CT/Rekor of @sigstore/mock. Run by hand: `node tests/sigstore/make-fixtures.mjs`.
// Unit tests read the committed output and need no node. Certificates live 10 minutes, but
// verification uses the signing time (integratedTime), so the fixtures stay valid.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ISSUER_V1_OID, relog, signCheckpoint, signStatement, startMock, statement, trustedRoot } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '../fixtures/verify/keyless');
fs.mkdirSync(out, { recursive: true });
const write = (name, obj) => fs.writeFileSync(path.join(out, name), JSON.stringify(obj, null, 2) + '\n');
const clone = (o) => JSON.parse(JSON.stringify(o));

const ISSUER = 'https://issuer.example';
const SUBJECT = 'https://good.example/ci/release.yml@refs/heads/main';
const EVIL = 'https://evil.example/https://good.example/ci/release.yml';
const DIGEST = 'sha256:' + 'ab'.repeat(32);
// The mock's CA root is self-signed at the real "now" (its clock only moves leaves), so the
// signing times sit just after it; START opens every validFor a day before.
const T0 = new Date(Math.ceil(Date.now() / 1000) * 1000 + 5000);
const START = new Date(T0.getTime() - 86400_000);
const stmt = statement({
  digest: DIGEST,
  name: '127.0.0.1:5001/demo/app',
  predicateType: 'https://slsa.dev/provenance/v1',
  predicate: { buildDefinition: { buildType: 'https://example.com/build/v1' } },
});

const cases = [];
const add = (name, bundle, trustedRootFile, identity, expect, reason, cReason) =>
  cases.push({ name, bundle, trustedRoot: trustedRootFile, identity, expect, reason, ...(cReason ? { cReason } : {}) });
const exact = { issuer: ISSUER, subject: SUBJECT };

// 1. The good bundle, and every variant built from it with the same mock (same trusted root).
const m = await startMock({ caClock: T0, tlogClock: new Date(T0.getTime() + 30_000) });
const good = await signStatement(m, { issuer: ISSUER, subject: SUBJECT, stmt });
write('good.bundle.json', good);
write('trusted_root.json', trustedRoot(m, { start: START }));
add('good', 'good.bundle.json', 'trusted_root.json', exact, 'accept', 'valid bundle, matching identity');
add('good-regexp', 'good.bundle.json', 'trusted_root.json',
  { issuer: ISSUER, subjectRegExp: 'https://good\\.example/ci/.*' }, 'accept', 'anchored regexp matches the whole SAN');
add('wrong-subject', 'good.bundle.json', 'trusted_root.json',
  { issuer: ISSUER, subject: 'https://good.example/other.yml@refs/heads/main' }, 'reject',
  'SAN differs from the policy subject', 'does not match');
add('wrong-issuer', 'good.bundle.json', 'trusted_root.json',
  { issuer: 'https://other-issuer.example', subject: SUBJECT }, 'reject', 'issuer differs from the policy issuer', 'does not match');

// A bigger tree: the entry at index 5 of 7, with a real audit path.
const big = clone(good);
relog(m, big.verificationMaterial.tlogEntries[0], { index: 5, treeSize: 7 });
write('good-bigtree.bundle.json', big);
add('good-bigtree', 'good-bigtree.bundle.json', 'trusted_root.json', exact, 'accept', 'inclusion proof in a 7-leaf tree');

// Tampered SET: one byte of the signature changed.
const tset = clone(good);
{
  const e = tset.verificationMaterial.tlogEntries[0];
  const s = Buffer.from(e.inclusionPromise.signedEntryTimestamp, 'base64');
  s[s.length - 3] ^= 0x01;
  e.inclusionPromise.signedEntryTimestamp = s.toString('base64');
}
write('tampered-set.bundle.json', tset);
add('tampered-set', 'tampered-set.bundle.json', 'trusted_root.json', exact, 'reject', 'SET signature does not verify', 'signed entry timestamp');

// Bad inclusion proof: rootHash changed (the checkpoint still names the real root).
const broot = clone(good);
{
  const p = broot.verificationMaterial.tlogEntries[0].inclusionProof;
  const r = Buffer.from(p.rootHash, 'base64');
  r[0] ^= 0xff;
  p.rootHash = r.toString('base64');
}
write('bad-proof-root.bundle.json', broot);
add('bad-proof-root', 'bad-proof-root.bundle.json', 'trusted_root.json', exact, 'reject',
  'inclusion proof rootHash differs from the computed root (the checkpoint is intact)', 'inclusion proof');
// @sigstore/verify compares the computed root with the checkpoint's only, never with rootHash.
cases[cases.length - 1].sigstoreJs = 'accept';

// Bad inclusion proof, consistently: rootHash changed and the checkpoint re-signed over it.
const broot2 = clone(broot);
{
  const e = broot2.verificationMaterial.tlogEntries[0];
  const p = e.inclusionProof;
  p.checkpoint.envelope = signCheckpoint(m, Buffer.from(e.logId.keyId, 'base64'), Number(p.treeSize),
    Buffer.from(p.rootHash, 'base64'), Number(e.integratedTime));
}
write('bad-proof-root-checkpoint.bundle.json', broot2);
add('bad-proof-root-checkpoint', 'bad-proof-root-checkpoint.bundle.json', 'trusted_root.json', exact, 'reject',
  'rootHash and the signed checkpoint agree on a root the proof does not reach', 'inclusion proof');

// Bad inclusion proof: a sibling hash changed, checkpoint (re-signed) over the real root.
const bhash = clone(big);
{
  const p = bhash.verificationMaterial.tlogEntries[0].inclusionProof;
  const h = Buffer.from(p.hashes[1], 'base64');
  h[7] ^= 0x55;
  p.hashes[1] = h.toString('base64');
}
write('bad-proof-hash.bundle.json', bhash);
add('bad-proof-hash', 'bad-proof-hash.bundle.json', 'trusted_root.json', exact, 'reject', 'inclusion proof sibling hash changed', 'inclusion proof');

// Bad checkpoint signature: one byte of the note's signature changed.
const bcp = clone(good);
{
  const c = bcp.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint;
  const [note, sigLine] = c.envelope.split('\n\n');
  const parts = sigLine.trimEnd().split(' ');
  const raw = Buffer.from(parts[2], 'base64');
  raw[raw.length - 2] ^= 0x01;
  parts[2] = raw.toString('base64');
  c.envelope = `${note}\n\n${parts.join(' ')}\n`;
}
write('bad-checkpoint.bundle.json', bcp);
add('bad-checkpoint', 'bad-checkpoint.bundle.json', 'trusted_root.json', exact, 'reject', 'checkpoint signature does not verify', 'checkpoint');

// Body bound to another signature: the logged intoto entry names a different signature, with
// the SET, proof and checkpoint re-signed so only the binding fails.
const other = clone(good);
{
  const e = other.verificationMaterial.tlogEntries[0];
  const body = JSON.parse(Buffer.from(e.canonicalizedBody, 'base64'));
  const fake = crypto.randomBytes(71).toString('base64');
  body.spec.content.envelope.signatures[0].sig = Buffer.from(fake).toString('base64');
  relog(m, e, { body: Buffer.from(JSON.stringify(body)) });
}
write('other-signature.bundle.json', other);
add('other-signature', 'other-signature.bundle.json', 'trusted_root.json', exact, 'reject', 'tlog body logs another signature', 'intoto signature');

// Missing SCT (a): the trusted root has no CT log.
write('trusted_root-no-ct.json', trustedRoot(m, { start: START, noCT: true }));
add('no-ct-log', 'good.bundle.json', 'trusted_root-no-ct.json', exact, 'reject', 'no CT log trusted, so no valid SCT', 'no valid SCT');

// CA not valid at the signing time (a): the CA's validFor ended before integratedTime.
write('trusted_root-ca-expired.json', trustedRoot(m, { start: START, caEnd: new Date(T0.getTime() - 3600_000) }));
add('ca-expired-at-signing', 'good.bundle.json', 'trusted_root-ca-expired.json', exact, 'reject',
  'CA validFor ended before integratedTime', 'certificate chain');

// The .1.1-only issuer leaf (unit tests): issued by the same CA, no .1.8 extension.
{
  const kp = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = await m.ca.issueCertificate({
    publicKey: kp.publicKey.export({ format: 'der', type: 'spki' }),
    subjectAltName: SUBJECT,
    extensions: [{ oid: ISSUER_V1_OID, value: ISSUER, legacy: true }],
  });
  write('leaf-issuer-v1.json', {
    comment: 'leaf with only the legacy issuer OID 1.3.6.1.4.1.57264.1.1; verify at integratedTime of good.bundle.json with trusted_root.json',
    leaf: Buffer.from(der).toString('base64'),
    at: Number(good.verificationMaterial.tlogEntries[0].integratedTime),
    issuer: ISSUER,
    subject: SUBJECT,
  });
}
// Leaves made with openssl and signed by the mock CA's key (no SCT: verify with ignore_sct):
// every SAN type, the issuer in OID .1.8 as a DER UTF8String; and one without codeSigning.
{
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-keyless-'));
  const f = (n) => path.join(tmp, n);
  fs.writeFileSync(f('ca.key'), m.caKey.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  fs.writeFileSync(f('ca.pem'), new crypto.X509Certificate(Buffer.from(m.ca.rootCertificate)).toString());
  fs.writeFileSync(f('leaf.key'), crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  fs.writeFileSync(f('ext.cnf'), [
    '[all_sans]', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=codeSigning', 'subjectAltName=@alt',
    `1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:${ISSUER}`,
    '[noeku]', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', 'subjectAltName=@alt',
    `1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:${ISSUER}`,
    '[alt]', 'otherName.1=1.3.6.1.4.1.57264.1.7;UTF8:builder@example', 'email.1=ops@example.com',
    'DNS.1=build.example', 'IP.1=10.1.2.3', 'IP.2=2001:db8::7', ''].join('\n'));
  execFileSync('openssl', ['req', '-new', '-key', f('leaf.key'), '-subj', '/O=tollgate test', '-out', f('leaf.csr')]);
  const leaves = {};
  for (const ext of ['all_sans', 'noeku']) {
    execFileSync('openssl', ['x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'),
      '-set_serial', '7', '-days', '1', '-sha256', '-extfile', f('ext.cnf'), '-extensions', ext,
      '-outform', 'DER', '-out', f(`${ext}.der`)], { stdio: ['ignore', 'ignore', 'pipe'] });
    const der = fs.readFileSync(f(`${ext}.der`));
    leaves[ext] = { leaf: der.toString('base64'), at: Math.floor(Date.parse(new crypto.X509Certificate(der).validFrom) / 1000) + 60 };
  }
  fs.rmSync(tmp, { recursive: true });
  write('leaf-sans.json', {
    comment: 'openssl-made leaves signed by the CA of trusted_root.json, without SCTs (verify with ignore_sct at "at"): SANs otherName 1.3.6.1.4.1.57264.1.7, email, DNS, IPv4, IPv6; issuer in .1.8; all_sans has codeSigning, noeku has EKU serverAuth only',
    issuer: ISSUER,
    sans: ['builder@example', 'ops@example.com', 'build.example', '10.1.2.3', '2001:db8::7'],
    ...leaves,
  });
}
await m.close();

// 2. Missing SCT (b): a leaf without SCTs (a CA with no CT log).
const mn = await startMock({ caClock: T0, tlogClock: new Date(T0.getTime() + 30_000), withCT: false });
write('no-sct.bundle.json', await signStatement(mn, { issuer: ISSUER, subject: SUBJECT, stmt }));
const noSctRoot = trustedRoot(mn, { start: START });
noSctRoot.ctlogs = trustedRoot(m, { start: START }).ctlogs; // a CT log is trusted, the leaf has no SCT
write('trusted_root-no-sct.json', noSctRoot);
add('no-sct', 'no-sct.bundle.json', 'trusted_root-no-sct.json', exact, 'reject', 'the leaf embeds no SCT', 'no valid SCT');
await mn.close();

// 3. CA not valid at the signing time (b): logged 20 minutes after issuance, past the leaf's
// 10-minute notAfter (the mock Rekor signs the SET with the later time).
const ml = await startMock({ caClock: T0, tlogClock: new Date(T0.getTime() + 20 * 60_000) });
write('expired-at-signing.bundle.json', await signStatement(ml, { issuer: ISSUER, subject: SUBJECT, stmt }));
write('trusted_root-expired.json', trustedRoot(ml, { start: START }));
add('leaf-expired-at-signing', 'expired-at-signing.bundle.json', 'trusted_root-expired.json', exact, 'reject',
  'integratedTime is after the leaf notAfter', 'certificate chain');
await ml.close();

// 4. The unanchored-regexp trap: the SAN contains the good identity after an evil prefix.
const me = await startMock({ caClock: T0, tlogClock: new Date(T0.getTime() + 30_000) });
write('evil.bundle.json', await signStatement(me, { issuer: ISSUER, subject: EVIL, stmt }));
write('trusted_root-evil.json', trustedRoot(me, { start: START }));
add('regexp-unanchored-trap', 'evil.bundle.json', 'trusted_root-evil.json',
  { issuer: ISSUER, subjectRegExp: 'https://good\\.example/.*' }, 'reject',
  'an unanchored match of the pattern inside the SAN must not pass', 'does not match');
add('evil-exact', 'evil.bundle.json', 'trusted_root-evil.json', { issuer: ISSUER, subject: EVIL }, 'accept',
  'the same bundle passes for its own identity (the trap case fails only on the identity)');
await me.close();

write('cases.json', { comment: 'Generated by tests/sigstore/make-fixtures.mjs. identity: {issuer, subject | subjectRegExp}; regexps are anchored. cReason: a substring of the C verifier\'s message. sigstoreJs: @sigstore/verify\'s answer where it differs from expect (a known divergence).', digest: DIGEST, cases });
console.log(`wrote ${cases.length} cases to ${out}`);
