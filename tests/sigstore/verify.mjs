#!/usr/bin/env node
// A second verifier: @sigstore/verify over a bundle, a trusted root and an identity.
//   node verify.mjs --bundle B.json --trusted-root R.json --issuer I (--subject S | --subject-regexp RE)
// Prints "accept" or "reject: <reason>" and exits 0 or 1 (2 on a usage error).
// @sigstore/verify treats the SAN policy as an unanchored JS regexp, so an exact subject is
// escaped and anchored, and a regexp is anchored as ^(?:RE)$, the C verifier's rule.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

function usage(msg) {
  console.error(`verify.mjs: ${msg}`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    bundle: { type: 'string' },
    'trusted-root': { type: 'string' },
    issuer: { type: 'string' },
    subject: { type: 'string' },
    'subject-regexp': { type: 'string' },
  },
});
if (!values.bundle || !values['trusted-root'] || !values.issuer) usage('--bundle, --trusted-root and --issuer are required');
if (!!values.subject === !!values['subject-regexp']) usage('exactly one of --subject and --subject-regexp');

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const san = values.subject ? `^${escape(values.subject)}$` : `^(?:${values['subject-regexp']})$`;

try {
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(values.bundle, 'utf8')));
  const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(values['trusted-root'], 'utf8')));
  const verifier = new Verifier(toTrustMaterial(root), { tlogThreshold: 1, ctlogThreshold: 1 });
  verifier.verify(toSignedEntity(bundle), {
    subjectAlternativeName: new RegExp(san),
    extensions: { issuer: values.issuer },
  });
  console.log('accept');
  process.exit(0);
} catch (e) {
  console.log(`reject: ${e.code ? e.code + ': ' : ''}${e.message}`);
  process.exit(1);
}
