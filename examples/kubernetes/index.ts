import * as k8s from "@pulumi/kubernetes";
import { serveModelFromStackConfig } from "mlops-rollback";

export = async () => {
    // The model's Deployments, Service and standbys, from the mlops:* keys of the stack file.
    const serving = await serveModelFromStackConfig();

    // The team's own resource beside ours: a release note that follows the
    // pinned version, which a rollback must update and never delete. The
    // version is an annotation, which updates in place (a change to a
    // ConfigMap's data would replace it).
    const releaseNote = new k8s.core.v1.ConfigMap("release-note", {
        metadata: {
            name: "fraud-detector-release",
            namespace: serving.kubernetes?.namespace ?? "default",
            annotations: { "acme.example.com/serving-version": serving.pinnedVersion },
        },
        data: { owner: "fraud-platform-team" },
    });

    // `mlops` is the output the mlops CLI and the next run read; keep it.
    return { mlops: serving.stackOutput, releaseNote: releaseNote.metadata.name };
};
