/**
 * What a stack declares, from a parsed config. Kept apart from `index.ts`
 * (which reads Pulumi's stack config) so that tests and `mlops plan` can run
 * it under Pulumi's mock runtime with a config of their choosing.
 */
import * as pulumi from "@pulumi/pulumi";
import { defaultRollbackTarget, warmSet, type CatalogView } from "./catalog/catalog";
import { AlarmRollbackTrigger, switchGroupFor, type AlarmRollbackTriggerArgs } from "./components/alarmRollbackTrigger";
import { DatabaseSnapshots } from "./components/databaseSnapshots";
import { EndpointAlarms, guardrailAlarmNames } from "./components/endpointAlarms";
import { KubernetesModelEndpoint } from "./components/kubernetesModelEndpoint";
import { SageMakerModelEndpoint } from "./components/sagemakerModelEndpoint";
import type { StackConfig } from "./config/schema";
import type { EndpointVariantsRecord } from "./catalog/endpointVariants";
import { currentSnapshot, servingDatabase, snapshotHoldsSwitch, type SnapshotRecord } from "./database/snapshots";

export interface ModelServingOutputs {
    readonly target: StackConfig["target"];
    readonly model: string;
    readonly pinnedVersion: pulumi.Output<string>;
    /** The warm versions (besides the pinned one), the one that served most recently last (see catalog/catalog.ts). */
    readonly warmVersions: string[];
    /** Set when the catalog's previous versions stand in for a serving record: why (see `WarmSet.standIn`). */
    readonly warmStandIn?: string;
    /** Set for the sagemaker target. */
    readonly sagemaker?: {
        readonly endpointName: pulumi.Output<string>;
        readonly endpointConfigNames: pulumi.Output<Record<string, string>>;
        /** `mlops:sagemaker.standby`. */
        readonly standby: "hot" | "cold";
        /** Hot standby: the variants of the config the endpoint runs (the next run keeps it when the pin moves within it). */
        readonly endpointVariants?: EndpointVariantsRecord;
    };
    /** Set for the kubernetes target. */
    readonly kubernetes?: {
        readonly namespace: pulumi.Output<string>;
        readonly serviceName: pulumi.Output<string>;
        /** The Service's uid: `mlops rollback`'s instant switch writes to this object only. */
        readonly serviceUid: pulumi.Output<string>;
        readonly deploymentNames: pulumi.Output<Record<string, string>>;
    };
    /** Set when `mlops:alarms` is. */
    readonly alarms?: {
        readonly compositeAlarmName: pulumi.Output<string>;
        readonly topicArn: pulumi.Output<string>;
        readonly metricAlarmNames: pulumi.Output<string[]>;
    };
    /** Set when `mlops:trigger` is. */
    readonly trigger?: {
        readonly functionName: pulumi.Output<string>;
        readonly runnerProjectName: pulumi.Output<string>;
        readonly rollbackVersion: string | null;
    };
    /** Set when `mlops:database` is. */
    readonly database?: {
        readonly servingIdentifier: pulumi.Output<string>;
    };
}

/** Alarm names start with the model and the stack: one account may hold staging and prod of one model. */
export function alarmNamePrefix(model: string, stack: string): string {
    return `${model}-${stack}`;
}

export interface DeclareOptions {
    /** Set by the reconcile run after the alarm trigger's fast path; see `SageMakerModelEndpointArgs.keepLiveDeploymentConfig`. */
    readonly keepLiveDeploymentConfig?: boolean;
    /** The snapshot ledger after this run and the snapshot it takes (see database/snapshots.ts). @default no snapshots */
    readonly snapshots?: { readonly ledger: readonly SnapshotRecord[]; readonly taken?: SnapshotRecord };
    /** This run's time (ISO 8601), which names a created database's final snapshot. @default now */
    readonly now?: string;
    /** The versions that served on this stack, oldest first (`CatalogView.servingHistory`). @default [] (no record: the catalog stands in) */
    readonly servingHistory?: readonly string[];
    /** Kubernetes: the versions a rollback left, kept at zero replicas (`nextRetainedVersions`). @default [] */
    readonly retainedVersions?: readonly string[];
    /** SageMaker hot standby: the config the endpoint runs, from the last update's record (`SageMakerModelEndpointArgs.endpointVariants`). @default none */
    readonly endpointVariants?: EndpointVariantsRecord;
}

export function declareModelServing(config: StackConfig, options: DeclareOptions = {}): ModelServingOutputs {
    const catalog = {
        versions: config.versions,
        pinned: config.pinned,
        warm: config.warm,
        quarantined: config.quarantined,
        servingHistory: options.servingHistory ?? [],
    };
    const warm = warmSet(catalog);
    const common = {
        target: config.target,
        model: config.model,
        warmVersions: [...warm.versions],
        ...(warm.standIn === undefined ? {} : { warmStandIn: warm.standIn }),
    };
    const stack = pulumi.getStack();
    const prefix = alarmNamePrefix(config.model, stack);
    // Checked before anything is declared: a rollback's snapshot waits for the switch declared below.
    if (config[config.target] === undefined) throw new Error(`mlops:${config.target} is required when mlops:target is '${config.target}'`);
    // Names, not resources: the alarms watch the endpoint, so they are created after it.
    const guardrails =
        config.target === "sagemaker" && config.alarms !== undefined ? guardrailAlarmNames({ alarmNamePrefix: prefix, settings: config.alarms }) : [];
    const database = declareDatabase(config, stack, options);
    const fromDatabase = { environment: database?.environment, switchDependsOn: database?.switchDependsOn };

    switch (config.target) {
        case "sagemaker": {
            const settings = config.sagemaker;
            if (settings === undefined) throw new Error("mlops:sagemaker is required when mlops:target is 'sagemaker'");
            const endpoint = withSwitchDeclared(
                database,
                () =>
                    new SageMakerModelEndpoint(config.model, {
                        model: config.model,
                        ...catalog,
                        settings,
                        rollbackAlarmNames: guardrails,
                        keepLiveDeploymentConfig: options.keepLiveDeploymentConfig,
                        endpointVariants: options.endpointVariants,
                        // The address in the environment is an Output: the database it comes from stands for it.
                        environmentSource: config.database?.addressEnv === undefined ? undefined : servingDatabase(config.database),
                        ...fromDatabase,
                    }),
            );
            return {
                ...common,
                pinnedVersion: endpoint.pinnedVersion,
                sagemaker: {
                    endpointName: endpoint.endpointName,
                    endpointConfigNames: endpoint.endpointConfigNames,
                    standby: settings.standby,
                    ...(endpoint.endpointVariants === undefined ? {} : { endpointVariants: endpoint.endpointVariants }),
                },
                database: database?.outputs,
                ...declareAlarming(config, catalog, stack, {
                    endpointName: endpoint.endpointName,
                    variantName: settings.variantName,
                    // Under hot standby the alarms watch both variants: whichever serves (after a rollback within the config, during a deploy's bake).
                    standbyVariantName: settings.standby === "hot" ? settings.standbyVariantName : undefined,
                    trigger: {
                        endpointName: endpoint.endpointName,
                        endpointConfigNames: endpoint.endpointConfigNames,
                        modelNames: endpoint.modelNames,
                        storageKeyArn: endpoint.storageKeyArn,
                        // The endpoint's whole set, in its order: the fast path must keep it as declared.
                        guardrailAlarmNames: [...settings.deployment.rollbackAlarmNames, ...guardrails],
                        hotStandby: endpoint.endpointVariants && { record: endpoint.endpointVariants, instanceCount: settings.instanceCount },
                    },
                }),
            };
        }
        case "kubernetes": {
            if (config.kubernetes === undefined) throw new Error("mlops:kubernetes is required when mlops:target is 'kubernetes'");
            const settings = config.kubernetes;
            // With the EKS instant switch, the trigger's role is mapped into this group, which the model's RBAC lets patch its Service only.
            const switchGroup = config.trigger?.eks === undefined ? undefined : switchGroupFor(config.model);
            const endpoint = withSwitchDeclared(
                database,
                () =>
                    new KubernetesModelEndpoint(config.model, {
                        model: config.model,
                        ...catalog,
                        settings,
                        switchGroup,
                        retained: options.retainedVersions ?? [],
                        ...fromDatabase,
                    }),
            );
            const rollbackVersion = defaultRollbackTarget(catalog);
            return {
                ...common,
                pinnedVersion: endpoint.pinnedVersion,
                kubernetes: {
                    namespace: endpoint.namespace,
                    serviceName: endpoint.serviceName,
                    serviceUid: endpoint.serviceUid,
                    deploymentNames: endpoint.deploymentNames,
                },
                database: database?.outputs,
                ...declareAlarming(
                    config,
                    catalog,
                    stack,
                    undefined,
                    switchGroup === undefined || rollbackVersion === undefined
                        ? undefined
                        : {
                              namespace: endpoint.namespace,
                              serviceName: endpoint.serviceName,
                              rollbackDeployment: endpoint.deploymentNames.apply((names) => names[rollbackVersion] ?? ""),
                              replicas: settings.replicas,
                              startupTimeoutSeconds: settings.startupTimeoutSeconds,
                              atReducedCapacity: settings.rollbackAtReducedCapacity,
                              switchGroup,
                          },
                ),
            };
        }
    }
}

/**
 * The database and its snapshots (with `mlops:database`), and what the
 * serving side takes from them: the address in its environment, and the
 * snapshot its switch waits for when the pin moves forward.
 */
function declareDatabase(config: StackConfig, stack: string, options: DeclareOptions) {
    if (config.database === undefined) return undefined;
    const ledger = options.snapshots?.ledger ?? [];
    const taken = options.snapshots?.taken;
    const holdsSwitch = taken !== undefined && snapshotHoldsSwitch(taken, config.versions);
    // A rollback's snapshot waits for the switch, which is declared after
    // this component (it takes the address from it): a promise stands for it.
    const afterSwitch = taken !== undefined && !holdsSwitch ? deferred<pulumi.Resource>() : undefined;
    const database = new DatabaseSnapshots(`${config.model}-database`, {
        model: config.model,
        stack,
        settings: config.database,
        snapshot: currentSnapshot(ledger, config.pinned),
        takenNow: taken !== undefined,
        takenAfter: afterSwitch?.promise,
        createdAt: options.now ?? new Date().toISOString(),
        needsAddress: config.database.addressEnv !== undefined,
    });
    const { addressEnv } = config.database;
    return {
        environment: addressEnv !== undefined && database.servingAddress !== undefined ? { [addressEnv]: database.servingAddress } : undefined,
        switchDependsOn: holdsSwitch && database.snapshotTakenNow !== undefined ? [database.snapshotTakenNow] : undefined,
        /** Call with the traffic switch once it is declared (or with the error that stopped it). */
        switched: (resource: pulumi.Resource | Error) => afterSwitch?.settle(resource),
        outputs: { servingIdentifier: database.servingIdentifier },
    };
}

/** Declare the serving side, and tell the database's rollback snapshot (if any) what switch to wait for. */
function withSwitchDeclared<T extends { readonly trafficSwitch: pulumi.Resource }>(database: ReturnType<typeof declareDatabase>, declare: () => T): T {
    try {
        const endpoint = declare();
        database?.switched(endpoint.trafficSwitch);
        return endpoint;
    } catch (error) {
        // The snapshot must not wait for a switch that will never be declared.
        database?.switched(error instanceof Error ? error : new Error(String(error)));
        throw error;
    }
}

/** A promise and the function that settles it: a resource (resolve) or an error (reject). */
function deferred<T>(): { promise: Promise<T>; settle: (value: T | Error) => void } {
    let settle: (value: T | Error) => void = () => undefined;
    const promise = new Promise<T>((resolve, reject) => {
        settle = (value) => (value instanceof Error ? reject(value) : resolve(value));
    });
    return { promise, settle };
}

/**
 * The alarms (with `mlops:alarms`) and the rollback trigger (with
 * `mlops:trigger`) of either target; `sagemaker` carries what only the
 * SageMaker alarms and fast path need.
 */
function declareAlarming(
    config: StackConfig,
    catalog: CatalogView,
    stack: string,
    sagemaker?: {
        endpointName: pulumi.Output<string>;
        variantName: string;
        standbyVariantName?: string;
        trigger: Omit<NonNullable<AlarmRollbackTriggerArgs["sagemaker"]>, "rollbackImage">;
    },
    kubernetes?: AlarmRollbackTriggerArgs["kubernetes"],
): Pick<ModelServingOutputs, "alarms" | "trigger"> {
    if (config.alarms === undefined) return {};
    const alarms = new EndpointAlarms(`${config.model}-alarms`, {
        alarmNamePrefix: alarmNamePrefix(config.model, stack),
        target: config.target,
        settings: config.alarms,
        endpointName: sagemaker?.endpointName,
        variantName: sagemaker?.variantName,
        standbyVariantName: sagemaker?.standbyVariantName,
    });
    if (config.trigger === undefined) return { alarms: alarmOutputs(alarms) };
    const rollbackVersion = defaultRollbackTarget(catalog);
    const trigger = new AlarmRollbackTrigger(`${config.model}-trigger`, {
        model: config.model,
        stack,
        target: config.target,
        settings: config.trigger,
        alarmName: alarms.compositeAlarmName,
        alarmArn: alarms.compositeAlarmArn,
        topicArn: alarms.topicArn,
        topicKeyArn: alarms.topicKeyArn,
        pinnedVersion: config.pinned,
        rollbackVersion,
        sagemaker: sagemaker && { ...sagemaker.trigger, rollbackImage: config.versions.find((v) => v.version === rollbackVersion)?.image },
        kubernetes,
    });
    return { alarms: alarmOutputs(alarms), trigger: triggerOutputs(trigger, rollbackVersion) };
}

function alarmOutputs(alarms: EndpointAlarms): NonNullable<ModelServingOutputs["alarms"]> {
    return { compositeAlarmName: alarms.compositeAlarmName, topicArn: alarms.topicArn, metricAlarmNames: alarms.metricAlarmNames };
}

function triggerOutputs(trigger: AlarmRollbackTrigger, rollbackVersion: string | undefined): NonNullable<ModelServingOutputs["trigger"]> {
    return { functionName: trigger.functionName, runnerProjectName: trigger.runnerProjectName, rollbackVersion: rollbackVersion ?? null };
}
