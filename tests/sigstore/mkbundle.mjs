#!/usr/bin/env node
// Signs an in-toto Statement keylessly, fully offline: a mock Fulcio (with CT log) and Rekor on
// 127.0.0.1, @sigstore/sign with an unsigned OIDC token for the given identity, entry type
// intoto. Writes bundle.json and trusted_root.json into --out; optionally attaches the bundle
// to a registry image as an OCI referrer with @sigstore/oci (the registry must use htpasswd
// auth: @sigstore/oci needs the 401 Basic challenge).
//
//   node mkbundle.mjs --out DIR --issuer I --subject S --digest sha256:HEX \
//        --predicate-type URI [--predicate JSON] [--name NAME]
//        [--attach HOST:PORT/REPO --username U --password P]
//   node mkbundle.mjs --out DIR --spec -      (the same options as a JSON object on stdin:
//        {issuer, subject, digest, predicateType, predicate, name, attach, username, password})
//
// Prints a JSON summary: {bundle, trustedRoot, integratedTime, issuer, subject[, referrer]}.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { attachArtifactToImage } from '@sigstore/oci';
import { signStatement, startMock, statement, trustedRoot } from './lib.mjs';

function fail(msg) {
  console.error(`mkbundle.mjs: ${msg}`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    spec: { type: 'string' },
    issuer: { type: 'string' },
    subject: { type: 'string' },
    digest: { type: 'string' },
    name: { type: 'string' },
    'predicate-type': { type: 'string' },
    predicate: { type: 'string' },
    attach: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
  },
});
let spec = {
  issuer: values.issuer,
  subject: values.subject,
  digest: values.digest,
  name: values.name,
  predicateType: values['predicate-type'],
  predicate: values.predicate !== undefined ? JSON.parse(values.predicate) : undefined,
  attach: values.attach,
  username: values.username,
  password: values.password,
};
if (values.spec !== undefined) {
  const text = fs.readFileSync(values.spec === '-' ? 0 : values.spec, 'utf8');
  spec = { ...spec, ...JSON.parse(text) };
}
if (!values.out) fail('--out is required');
for (const k of ['issuer', 'subject', 'digest', 'predicateType'])
  if (!spec[k]) fail(`${k} is required`);
if (!/^sha256:[0-9a-f]{64}$/.test(spec.digest)) fail('digest must be sha256:<64 hex>');
if (spec.attach && (!spec.username || !spec.password)) fail('attach needs username and password');

const now = new Date();
const mock = await startMock();
try {
  const bundle = await signStatement(mock, {
    issuer: spec.issuer,
    subject: spec.subject,
    stmt: statement({ digest: spec.digest, name: spec.name, predicateType: spec.predicateType, predicate: spec.predicate }),
  });
  fs.mkdirSync(values.out, { recursive: true });
  const bundlePath = path.join(values.out, 'bundle.json');
  const rootPath = path.join(values.out, 'trusted_root.json');
  const bundleText = JSON.stringify(bundle);
  fs.writeFileSync(bundlePath, bundleText);
  fs.writeFileSync(rootPath, JSON.stringify(trustedRoot(mock, { start: new Date(now.getTime() - 3600_000) }), null, 2));
  const summary = {
    bundle: bundlePath,
    trustedRoot: rootPath,
    integratedTime: Number(bundle.verificationMaterial.tlogEntries[0].integratedTime),
    issuer: spec.issuer,
    subject: spec.subject,
  };
  if (spec.attach) {
    summary.referrer = await attachArtifactToImage({
      imageName: spec.attach,
      imageDigest: spec.digest,
      credentials: { username: spec.username, password: spec.password },
      artifact: Buffer.from(bundleText),
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      annotations: {
        'dev.sigstore.bundle.content': 'dsse-envelope',
        'dev.sigstore.bundle.predicateType': spec.predicateType,
      },
    });
  }
  console.log(JSON.stringify(summary));
} finally {
  await mock.close();
}
