// Run the Khronos glTF Validator on one .glb/.gltf file and print its JSON report on stdout.
// Usage: node tests/tools/validate_gltf.mjs FILE
// The validator package is looked up in ./node_modules (npm install at the repository root),
// then in .cache/npm/node_modules (npm install --prefix .cache/npm gltf-validator).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const places = [join(root, "node_modules"), join(root, ".cache", "npm", "node_modules")];

function loadValidator() {
  for (const place of places) {
    try {
      return createRequire(join(place, "noop.js"))("gltf-validator");
    } catch (error) {
      if (error.code !== "MODULE_NOT_FOUND") throw error;
    }
  }
  console.error(`gltf-validator not found in ${places.join(" or ")}`);
  process.exit(3);
}

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate_gltf.mjs FILE");
  process.exit(2);
}
const validator = loadValidator();
const report = await validator.validateBytes(new Uint8Array(readFileSync(file)), {
  uri: file,
  maxIssues: 1000,
});
console.log(JSON.stringify(report, null, 2));
