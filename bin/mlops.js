#!/usr/bin/env node
"use strict";
// The CLI runs from its TypeScript sources through tsx, so `npm ci` is all
// it takes to get a working `mlops` (no build step to forget). Both of tsx's
// hooks are registered: require() for the CLI's modules, and import() for
// the heavy ones a command loads only when it needs them.
require("tsx/cjs/api").register();
// `mlops plan --json | head` closes stdout early: that is the reader's choice, not a crash.
process.stdout.on("error", (error) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
});
import("tsx/esm/api")
    .then(({ register }) => {
        register();
        return require("../cli/main.ts").main(process.argv);
    })
    .then((code) => {
        process.exitCode = code;
    });
