/**
 * A SageMaker real-time endpoint whose warm versions stay declared. Cold
 * standby (the default): a rollback to a warm version moves one pointer
 * (`endpointConfigName`), and SageMaker starts a new fleet for it. Hot
 * standby: the endpoint config also runs the rollback target as a weight-0
 * production variant, and a rollback to it moves weight
 * (`EndpointVariantWeights`, catalog/endpointVariants.ts) with no new config
 * and no new fleet.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { declaredVersions, defaultRollbackTarget, warmSet, type CatalogView } from "../catalog/catalog";
import { configMadeFrom, desiredVariantWeights, endpointVariantsFor, type EndpointVariant, type EndpointVariantsRecord } from "../catalog/endpointVariants";
import { EndpointVariantWeights } from "./endpointVariantWeights";
import { sagemakerChildNames } from "../catalog/names";
import {
    componentArgsMessage,
    ECR_IMAGE_PATTERN,
    hasLocalNvmeStorage,
    parseSageMakerArgs,
    S3_OBJECT_PATTERN,
    type DeploymentSettings,
    type ModelVersion,
    type ModelVersionInput,
    type SageMakerSettings,
    type SageMakerSettingsInput,
} from "../config/schema";

export interface SageMakerModelEndpointArgs {
    /** The model's name (`mlops:model`), used in tags and container env. */
    readonly model: string;
    /** The catalog (`mlops:versions`), oldest first: image by digest and S3 artifact per version; decides which Models and configs exist. */
    readonly versions: readonly ModelVersionInput[];
    /** The version the endpoint serves; in `versions`, not in `quarantined`. */
    readonly pinned: string;
    /** How many versions that served before the pin stay declared, ready to switch to (see `servingHistory`). @default 1 */
    readonly warm?: number;
    /** Versions never kept warm and never pinned. @default [] */
    readonly quarantined?: readonly string[];
    /**
     * The versions that served on this stack, in the order they last started
     * serving (oldest first): the warm ones are the latest of these before the
     * pin. `serveModelFromStackConfig` keeps this record in the stack's `mlops`
     * output. @default [] (no record: the catalog's previous versions stand in, and the component logs which)
     */
    readonly servingHistory?: readonly string[];
    /** `mlops:sagemaker`: `instanceType` (required), instance count, variant name, deployment policy, optional KMS key, VPC and role. */
    readonly settings: SageMakerSettingsInput;
    /** Alarms that roll a deployment back during its bake, after `settings.deployment.rollbackAlarmNames`; a new set replaces the endpoint, so keep names stable. @default [] */
    readonly rollbackAlarmNames?: pulumi.Input<string>[];
    /** Keep the deployment policy SageMaker has (set by the reconcile run after the trigger's all-at-once restore, which must not redeploy). @default false */
    readonly keepLiveDeploymentConfig?: boolean;
    /** Extra environment of every version's container, e.g. the database's address; a change replaces every Model. @default {} */
    readonly environment?: Record<string, pulumi.Input<string>>;
    /**
     * A plain string that changes whenever a value in `environment` does
     * (an Output cannot be compared while the program runs), e.g. the
     * database identifier its address comes from. Under hot standby a
     * change makes a new endpoint config with the pin at weight 1. @default ""
     */
    readonly environmentSource?: string;
    /** What the endpoint's switch to the pinned config waits for, e.g. the database snapshot of this pin change. @default [] */
    readonly switchDependsOn?: pulumi.Resource[];
    /** Extra tags on every child. @default {} */
    readonly tags?: Record<string, string>;
    /**
     * Hot standby: the endpoint config the stack runs now (the
     * `sagemaker.endpointVariants` of its `mlops` output), kept when the pin
     * moves within it (see `endpointVariantsFor`). `serveModelFromStackConfig`
     * passes it. @default none (a new config for the pin and its standby)
     */
    readonly endpointVariants?: EndpointVariantsRecord;
}

export class SageMakerModelEndpoint extends pulumi.ComponentResource {
    /** The endpoint's physical name, what clients invoke. */
    public readonly endpointName: pulumi.Output<string>;
    /** The version the endpoint is declared to serve. */
    public readonly pinnedVersion: pulumi.Output<string>;
    /** The endpoint config name of each warm version. */
    public readonly endpointConfigNames: pulumi.Output<Record<string, string>>;
    /** The Model name of each warm version. */
    public readonly modelNames: pulumi.Output<Record<string, string>>;
    /** The role the Models run as. */
    public readonly executionRoleArn: pulumi.Output<string>;
    /** The KMS key of the endpoint's storage volumes (given, or created here); undefined on instance types with local NVMe storage. */
    public readonly storageKeyArn: pulumi.Output<string | undefined>;
    /** The resource whose update moves traffic (the Endpoint), for what must come after a switch. */
    public readonly trafficSwitch: pulumi.Resource;
    /** Hot standby: the production variants of the config the endpoint runs (record it for the next run); undefined under cold standby. */
    public readonly endpointVariants: EndpointVariantsRecord | undefined;
    /** The production variant that serves the pinned version: what its CloudWatch metrics are dimensioned by. */
    public readonly servingVariantName: string;

    constructor(name: string, args: SageMakerModelEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mlops:sagemaker:ModelEndpoint", name, {}, opts);
        // Defaults and checks of the stack config's own schema: what `pulumi up` refuses, the component refuses too.
        const parsed = parseSageMakerArgs(args, name);
        if (!parsed.success) throw new pulumi.ResourceError(componentArgsMessage("SageMakerModelEndpoint", name, parsed.problems), this);
        const { model: modelName, settings, ...catalog } = parsed.data;
        const hotDecision =
            settings.standby === "hot"
                ? endpointVariantsFor({
                      settings,
                      pinned: catalog.pinned,
                      standby: defaultRollbackTarget(catalog),
                      quarantined: catalog.quarantined,
                      catalog: catalog.versions.map((v) => v.version),
                      previous: args.endpointVariants,
                      previousPin: catalog.servingHistory.at(-1),
                      madeFrom: configMadeFrom(
                          settings,
                          Object.fromEntries(
                              Object.entries(args.environment ?? {}).map(([key, value]) => [key, typeof value === "string" ? value : undefined]),
                          ),
                          args.environmentSource,
                      ),
                  })
                : undefined;
        const hot = hotDecision?.record;
        if (hotDecision?.rolledBackWithin === true) {
            void pulumi.log.info(
                `${name}: version ${catalog.pinned} serves from the endpoint config made for ${hotDecision.record.createdFor} (a rollback moved the weight within it); the deployment policy in mlops:sagemaker.deployment applies again from the next deploy (a redeploy of this config would reset its weights to ${hotDecision.record.createdFor}).`,
                this,
            );
        }
        const hotVersions = hot?.variants.map((variant) => variant.version) ?? [];
        // Under hot standby a version a rollback left still runs, at weight 0, in the config the endpoint keeps: its Model stays declared.
        const warm = unique(
            [...declaredVersions(catalog), ...hotVersions],
            catalog.versions.map((v) => v.version),
        ).map((id) => versionById(catalog.versions, id));
        const { standIn } = warmSet(catalog);
        // Said on every run until another version has served: a rollback target that never took traffic is never chosen silently.
        if (standIn !== undefined) void pulumi.log.info(`${name}: ${standIn}.`, this);
        const tags = { ...args.tags, "mlops:model": modelName };

        const readableVersions = unique(
            [...rolePolicyVersions(catalog), ...hotVersions],
            catalog.versions.map((v) => v.version),
        ).map((id) => versionById(catalog.versions, id));
        let roleArn: pulumi.Output<string>;
        const roleReady: pulumi.Resource[] = [];
        if (settings.executionRoleArn !== undefined) {
            roleArn = pulumi.output(settings.executionRoleArn);
        } else {
            const role = new aws.iam.Role(
                `${name}-role`,
                {
                    description: `SageMaker execution role for model ${modelName} (managed by mlops-rollback)`,
                    assumeRolePolicy: JSON.stringify(SAGEMAKER_ASSUME_ROLE_POLICY),
                    tags,
                },
                { parent: this },
            );
            const account = aws.getCallerIdentityOutput({}, { parent: this });
            const region = aws.getRegionOutput({}, { parent: this });
            const partition = aws.getPartitionOutput({}, { parent: this });
            const policy = new aws.iam.RolePolicy(
                `${name}-role-policy`,
                {
                    role: role.id,
                    policy: pulumi
                        .all([partition.partition, account.accountId, region.region])
                        .apply(([partitionName, accountId, regionName]) =>
                            JSON.stringify(
                                executionRolePolicy({ partition: partitionName, accountId, region: regionName, versions: readableVersions, vpc: settings.vpc }),
                            ),
                        ),
                },
                { parent: this },
            );
            roleArn = role.arn;
            // A new Model must not be created before the role may read its
            // artifact and image.
            roleReady.push(policy);
        }

        // The storage volumes are encrypted with a key of the account's own
        // (CKV_AWS_98). retainOnDelete: every retained config names this key,
        // and SageMaker cannot start a config whose key is gone.
        const storageKeyArn: pulumi.Input<string> | undefined =
            settings.kmsKeyArn ??
            (createsStorageKey(settings)
                ? new aws.kms.Key(
                      `${name}-storage-key`,
                      {
                          description: `Encrypts the endpoint storage volumes of model ${modelName} (managed by mlops-rollback)`,
                          enableKeyRotation: true,
                          deletionWindowInDays: 30,
                          tags,
                      },
                      { parent: this, retainOnDelete: true },
                  ).arn
                : undefined);

        // retainOnDelete: a Model and an EndpointConfiguration cost nothing
        // while unused, and SageMaker may roll an endpoint back to a config
        // the program no longer declares (terraform-provider-aws #48997);
        // deleting it would break the endpoint.
        const configNames: Record<string, pulumi.Output<string>> = {};
        const modelNames: Record<string, pulumi.Output<string>> = {};
        for (const version of warm) {
            const names = sagemakerChildNames(name, version.version);
            const versionTags = { ...tags, "mlops:version": version.version };
            const model = new aws.sagemaker.Model(
                names.model,
                {
                    executionRoleArn: roleArn,
                    primaryContainer: {
                        image: version.image,
                        modelDataUrl: version.artifact,
                        environment: { ...args.environment, MLOPS_MODEL: modelName, MLOPS_MODEL_VERSION: version.version },
                    },
                    enableNetworkIsolation: true,
                    vpcConfig: settings.vpc && { subnets: settings.vpc.subnetIds, securityGroupIds: settings.vpc.securityGroupIds },
                    tags: versionTags,
                },
                { parent: this, dependsOn: roleReady, retainOnDelete: true },
            );
            modelNames[version.version] = model.name;
            // Under hot standby the versions of the endpoint's config share it (declared below).
            if (hotVersions.includes(version.version)) continue;
            const endpointConfiguration = new aws.sagemaker.EndpointConfiguration(
                names.endpointConfiguration,
                {
                    productionVariants: [
                        {
                            variantName: settings.variantName,
                            modelName: model.name,
                            instanceType: settings.instanceType,
                            initialInstanceCount: settings.instanceCount,
                            initialVariantWeight: 1,
                        },
                    ],
                    kmsKeyArn: storageKeyArn,
                    tags: versionTags,
                },
                { parent: this, retainOnDelete: true },
            );
            configNames[version.version] = endpointConfiguration.name;
        }
        if (hot !== undefined) {
            // Named for the version it was made for, so that a rollback within it keeps the same logical (and physical) config.
            const hotConfiguration = new aws.sagemaker.EndpointConfiguration(
                sagemakerChildNames(name, hot.createdFor).endpointConfiguration,
                {
                    productionVariants: hot.variants.map((variant) => productionVariant(variant, modelNames[variant.version], settings.instanceType)),
                    kmsKeyArn: storageKeyArn,
                    tags: { ...tags, "mlops:version": hot.createdFor, "mlops:standby": hot.variants.map((variant) => variant.version).join(" ") },
                },
                { parent: this, retainOnDelete: true },
            );
            for (const version of hotVersions) configNames[version] = hotConfiguration.name;
        }

        const endpoint = new aws.sagemaker.Endpoint(
            `${name}-endpoint`,
            {
                endpointConfigName: configNames[catalog.pinned],
                deploymentConfig: deploymentConfigFor(settings.deployment, args.rollbackAlarmNames ?? []),
                tags,
            },
            // No dependsOn on the role policy. The Endpoint still waits for it
            // through the pinned config's Model (which must not start before
            // the role may read its artifact): a rollback's policy update, one
            // IAM call, comes before the switch (`npm run bench` shows it).
            {
                parent: this,
                dependsOn: args.switchDependsOn,
                // After a rollback within the hot config, a new deployment policy would redeploy that config, whose initial weights are the version left's.
                ignoreChanges: args.keepLiveDeploymentConfig || hotDecision?.rolledBackWithin === true ? ["deploymentConfig"] : undefined,
            },
        );

        if (hot !== undefined) {
            // After the Endpoint: an UpdateEndpoint resets the live weights to the config's initial ones; this then reads
            // them (its diff asks DescribeEndpoint) and moves them where the pin wants them, with one call if they differ.
            new EndpointVariantWeights(
                `${name}-variant-weights`,
                {
                    endpointName: endpoint.name,
                    region: aws.getRegionOutput({}, { parent: this }).region,
                    variants: desiredVariantWeights(hot, catalog.pinned, settings.instanceCount),
                },
                { parent: this, dependsOn: [endpoint] },
            );
        }

        this.trafficSwitch = endpoint;
        this.endpointVariants = hot;
        this.servingVariantName = hot?.variants.find((variant) => variant.version === catalog.pinned)?.variantName ?? settings.variantName;
        this.endpointName = endpoint.name;
        this.pinnedVersion = pulumi.output(catalog.pinned);
        this.endpointConfigNames = pulumi.output(configNames);
        this.modelNames = pulumi.output(modelNames);
        this.executionRoleArn = roleArn;
        this.storageKeyArn = pulumi.output(storageKeyArn);
        this.registerOutputs({
            endpointName: this.endpointName,
            pinnedVersion: this.pinnedVersion,
            endpointConfigNames: this.endpointConfigNames,
            modelNames: this.modelNames,
            executionRoleArn: this.executionRoleArn,
            storageKeyArn: this.storageKeyArn,
        });
    }
}

/**
 * Whether the component creates the storage volumes' KMS key: when none is
 * given and the instance type has volumes to encrypt (SageMaker encrypts local
 * NVMe storage itself and rejects a key for it).
 */
export function createsStorageKey(settings: Pick<SageMakerSettings, "kmsKeyArn" | "instanceType">): boolean {
    return settings.kmsKeyArn === undefined && !hasLocalNvmeStorage(settings.instanceType);
}

function versionById(versions: readonly ModelVersion[], id: string): ModelVersion {
    const version = versions.find((v) => v.version === id);
    if (version === undefined) throw new Error(`version '${id}' is not in the catalog`);
    return version;
}

/**
 * The versions whose artifact and image the role may read: the declared ones (warm and pinned),
 * plus any non-quarantined version after the pin. During a plain rollback
 * (`pulumi config set mlops:pinned 2`) the endpoint still serves version 3
 * while the role policy is updated, and a replaced instance must still be
 * able to load it. `mlops rollback` quarantines the version it leaves, which
 * then drops out here.
 */
export function rolePolicyVersions(catalog: CatalogView): string[] {
    const ids = catalog.versions.map((v) => v.version);
    const later = ids.slice(ids.indexOf(catalog.pinned) + 1).filter((id) => !catalog.quarantined.includes(id));
    return [...declaredVersions(catalog), ...later];
}

export const SAGEMAKER_ASSUME_ROLE_POLICY = {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: "sagemaker.amazonaws.com" }, Action: "sts:AssumeRole" }],
};

/** The `deploymentConfig` of the endpoint: blue/green with the configured traffic shift. */
export function deploymentConfigFor(
    deployment: DeploymentSettings,
    extraAlarmNames: pulumi.Input<string>[],
): aws.types.input.sagemaker.EndpointDeploymentConfig {
    const alarmNames: pulumi.Input<string>[] = [...deployment.rollbackAlarmNames, ...extraAlarmNames];
    const stepSize = deployment.stepPercent === undefined ? undefined : { type: "CAPACITY_PERCENT", value: deployment.stepPercent };
    return {
        blueGreenUpdatePolicy: {
            trafficRoutingConfiguration: {
                type: TRAFFIC_ROUTING_TYPE[deployment.strategy],
                waitIntervalInSeconds: deployment.waitIntervalSeconds,
                canarySize: deployment.strategy === "canary" ? stepSize : undefined,
                linearStepSize: deployment.strategy === "linear" ? stepSize : undefined,
            },
            // SageMaker's final bake: the old fleet stays up, and the alarms
            // can still roll traffic back, for this long after the shift.
            terminationWaitInSeconds: deployment.bakeTimeSeconds,
            maximumExecutionTimeoutInSeconds: deployment.maximumExecutionTimeoutSeconds,
        },
        // Omitted rather than empty: an empty alarm list is a change of the
        // alarm set like any other, and that set forces replacement.
        autoRollbackConfiguration: alarmNames.length === 0 ? undefined : { alarms: alarmNames.map((alarmName) => ({ alarmName })) },
    };
}

const TRAFFIC_ROUTING_TYPE: Record<DeploymentSettings["strategy"], string> = {
    allAtOnce: "ALL_AT_ONCE",
    canary: "CANARY",
    linear: "LINEAR",
};

export interface EcrImage {
    readonly account: string;
    readonly region: string;
    readonly repository: string;
}

export function parseEcrImage(image: string): EcrImage {
    const groups = ECR_IMAGE_PATTERN.exec(image)?.groups;
    if (groups === undefined) throw new Error(`'${image}' is not an ECR image by digest`);
    return { account: groups.account, region: groups.region, repository: groups.repository };
}

export function s3ObjectArn(partition: string, artifact: string): string {
    const groups = S3_OBJECT_PATTERN.exec(artifact)?.groups;
    if (groups === undefined) throw new Error(`'${artifact}' is not an S3 object URI`);
    return `arn:${partition}:s3:::${groups.bucket}/${groups.key}`;
}

interface PolicyStatement {
    readonly Sid: string;
    readonly Effect: "Allow";
    readonly Action: string[];
    readonly Resource: string[] | "*";
}

export interface ExecutionRolePolicyArgs {
    readonly partition: string;
    readonly accountId: string;
    readonly region: string;
    /** The warm versions: their artifacts and image repositories, nothing more. */
    readonly versions: readonly ModelVersion[];
    readonly vpc?: SageMakerSettings["vpc"];
}

/**
 * The execution role's policy: read exactly the warm versions' artifact
 * objects and pull from exactly their image repositories. The only `*`
 * resources are on actions IAM cannot scope to a resource
 * (ecr:GetAuthorizationToken, ec2:Describe*).
 */
export function executionRolePolicy(args: ExecutionRolePolicyArgs): { Version: string; Statement: PolicyStatement[] } {
    const { partition, accountId, region } = args;
    const artifactArns = unique(args.versions.flatMap((v) => (v.artifact === undefined ? [] : [s3ObjectArn(partition, v.artifact)])));
    const repositoryArns = unique(
        args.versions.map((v) => {
            const image = parseEcrImage(v.image);
            return `arn:${partition}:ecr:${image.region}:${image.account}:repository/${image.repository}`;
        }),
    );
    const statements: PolicyStatement[] = [
        { Sid: "ReadModelArtifacts", Effect: "Allow", Action: ["s3:GetObject"], Resource: artifactArns },
        {
            Sid: "PullModelImages",
            Effect: "Allow",
            Action: ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            Resource: repositoryArns,
        },
        { Sid: "GetEcrAuthorizationToken", Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: "*" },
        {
            Sid: "WriteEndpointLogs",
            Effect: "Allow",
            Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            Resource: [`arn:${partition}:logs:${region}:${accountId}:log-group:/aws/sagemaker/Endpoints/*`],
        },
    ];
    if (args.vpc !== undefined) {
        statements.push(
            {
                Sid: "DescribeVpcResources",
                Effect: "Allow",
                Action: ["ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"],
                Resource: "*",
            },
            {
                Sid: "ManageEndpointNetworkInterfaces",
                Effect: "Allow",
                Action: [
                    "ec2:CreateNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                Resource: [
                    `arn:${partition}:ec2:${region}:${accountId}:network-interface/*`,
                    ...args.vpc.subnetIds.map((id) => `arn:${partition}:ec2:${region}:${accountId}:subnet/${id}`),
                    ...args.vpc.securityGroupIds.map((id) => `arn:${partition}:ec2:${region}:${accountId}:security-group/${id}`),
                ],
            },
        );
    }
    return { Version: "2012-10-17", Statement: statements };
}

/** `values` without repeats: sorted, or in `order`'s order when given. */
function unique(values: string[], order?: readonly string[]): string[] {
    const distinct = [...new Set(values)];
    return order === undefined ? distinct.sort() : distinct.sort((a, b) => order.indexOf(a) - order.indexOf(b));
}

function productionVariant(variant: EndpointVariant, modelName: pulumi.Output<string>, instanceType: string) {
    return {
        variantName: variant.variantName,
        modelName,
        instanceType,
        initialInstanceCount: variant.initialInstanceCount,
        initialVariantWeight: variant.initialWeight,
    };
}
