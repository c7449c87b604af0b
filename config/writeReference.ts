/**
 * Writes the config reference generated from the stack config schema:
 * docs/configuration.md, and the `config:` block of Pulumi.yaml (everything
 * above that block stays). Run it after changing config/schema.ts:
 * `npm run docs:config`; test/configReference.test.ts fails until it has run.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { REFERENCE_FILES, renderConfigurationMarkdown, renderPulumiProjectConfig, withProjectConfig } from "./reference";

/** The repository's root: where Pulumi.yaml and config/schema.ts are (not dist/, where this file is compiled to as well). */
const ROOT = path.resolve(__dirname, "..");

function main(): void {
    if (!existsSync(path.join(ROOT, "config", "schema.ts"))) {
        throw new Error(`${ROOT} is not the mlops-rollback repository (no config/schema.ts): run npm run docs:config from the repository`);
    }
    const project = path.join(ROOT, REFERENCE_FILES.project);
    writeFileSync(path.join(ROOT, REFERENCE_FILES.configuration), renderConfigurationMarkdown());
    writeFileSync(project, withProjectConfig(readFileSync(project, "utf8"), renderPulumiProjectConfig()));
    console.log(`wrote ${REFERENCE_FILES.configuration} and the config: block of ${REFERENCE_FILES.project}`);
}

main();
