#!/usr/bin/env node
"use strict";
// On Node.js < 22 the AWS SDK prints a NodeVersionSupportWarning (its future
// releases will need Node.js 22) once per process, in the middle of mlops's
// own output, about something the user of mlops cannot act on mid-rollback.
// The README says Node.js 22+ is recommended; engines allows 20.19. Set before
// anything loads the SDK; a value the user set is kept. Processes mlops starts
// (the engine, the user's program under it) inherit it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
// The CLI runs from the compiled package (dist/, made by `npm run build`,
// which `npm ci` runs through `prepare`): no TypeScript loader at run time.
const path = require("node:path");
const entry = path.join(__dirname, "..", "dist", "cli", "main.js");
let cli;
try {
    cli = require(entry);
} catch (error) {
    if (error.code !== "MODULE_NOT_FOUND" || !String(error.message).includes(entry)) throw error;
    process.stderr.write(`mlops: ${entry} is missing: the package is not built. In a clone of mlops-rollback, run npm run build.\n`);
    process.exit(1);
}
// `mlops plan --json | head` closes stdout early: that is the reader's choice, not a crash.
process.stdout.on("error", (error) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
});
cli.main(process.argv).then((code) => {
    process.exitCode = code;
});
