import * as aws from "@pulumi/aws";
import { serveModelFromStackConfig } from "mlops-rollback";

export = async () => {
    // The Models, endpoint configs, endpoint, alarms and snapshots, from the mlops:* keys of the stack file.
    const serving = await serveModelFromStackConfig();

    // The team's own resource beside ours: the serving version for other
    // services to read, which a rollback must update and never delete.
    const servingVersion = new aws.ssm.Parameter("serving-version", {
        type: aws.ssm.ParameterType.String,
        name: "/acme/fraud-detector/serving-version",
        value: serving.pinnedVersion,
    });

    // `mlops` is the output the mlops CLI and the next run read; keep it.
    return { mlops: serving.stackOutput, servingVersionParameter: servingVersion.name };
};
