#!/usr/bin/env node
"use strict";
// The CLI runs from its TypeScript sources through tsx, so `npm ci` is all
// it takes to get a working `mlops` (no build step to forget).
require("tsx/cjs/api").register();
require("../cli/main.ts")
    .main(process.argv)
    .then((code) => {
        process.exitCode = code;
    });
