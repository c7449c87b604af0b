/**
 * This repository's own Pulumi program (the `mlops` project, its stacks in
 * stacks/), written as a user writes theirs: only the public entry point.
 */
import { serveModelFromStackConfig } from "./api";

export = async () => {
    const serving = await serveModelFromStackConfig();
    return { mlops: serving.stackOutput };
};
