// Validates JSON values against the event schema with Ajv, a validator independent of the Go
// one the tests use, in strict mode, so that the schema is held to a second reading of JSON
// Schema 2020-12. `make test` runs it through internal/broker TestSecondValidatorAgrees.
//
// Usage: node schema/check.js SCHEMA CASES
// CASES is a JSON array of strings, each a message value; the output is a JSON array of
// booleans, whether each is valid. A schema Ajv will not compile is an error (exit 1).
"use strict";
const fs = require("fs");
const path = require("path");
// The Node packages are pinned in devstack/, beside dynalite.
const lib = path.join(__dirname, "..", "devstack", "node_modules");
const Ajv2020 = require(path.join(lib, "ajv", "dist", "2020")).default;
const addFormats = require(path.join(lib, "ajv-formats")).default;

const [schemaFile, casesFile] = process.argv.slice(2);
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaFile, "utf8")));
const results = JSON.parse(fs.readFileSync(casesFile, "utf8")).map((value) => {
  let parsed;
  try {
    parsed = JSON.parse(value);
  } catch {
    return false; // not JSON: the consumer dead-letters it too
  }
  return validate(parsed);
});
process.stdout.write(JSON.stringify(results));
