/**
 * Run the program under Pulumi's mock runtime and record what it registers.
 * The mocks stand for the Pulumi engine and the AWS provider: every resource
 * "creates" with its inputs as outputs, and the provider functions the
 * program calls answer with a fixed test account. Any other call throws, so a
 * new invoke cannot slip into the program unnoticed.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { declareModelServing, type DeclareOptions } from "../program";
import { changeReplaces, REPLACE_ON_CHANGE } from "./replaceOnChange";

export interface RegisteredResource {
    /** Pulumi type token, e.g. `aws:sagemaker/endpoint:Endpoint`. */
    readonly type: string;
    /** Logical name. */
    readonly name: string;
    /** Inputs as the engine would receive them. */
    readonly inputs: Record<string, unknown>;
    /** Resource options as the engine receives them (absent when recorded without a monitor hook). */
    readonly options?: RegisteredOptions;
}

export interface RegisteredOptions {
    /** URN of the parent: `...mlops:sagemaker:ModelEndpoint::name` for a component's child. */
    readonly parent: string;
    /** URNs this resource waits for (dependsOn and input dependencies). */
    readonly dependencies: string[];
    readonly retainOnDelete: boolean;
    readonly protect: boolean;
    readonly customTimeouts?: { readonly create: string; readonly update: string };
    /** Property paths the engine is told to ignore changes to; absent when none. */
    readonly ignoreChanges?: string[];
}

export const MOCK_ACCOUNT_ID = "123456789012";
export const MOCK_REGION = "us-east-1";

const FIXED_CALL_RESULTS: Record<string, Record<string, unknown>> = {
    "aws:index/getCallerIdentity:getCallerIdentity": {
        accountId: MOCK_ACCOUNT_ID,
        arn: `arn:aws:iam::${MOCK_ACCOUNT_ID}:user/mlops-plan`,
        id: MOCK_ACCOUNT_ID,
        userId: "AIDAMLOPSPLAN",
    },
    "aws:index/getRegion:getRegion": { id: MOCK_REGION, name: MOCK_REGION, region: MOCK_REGION, description: "mock", endpoint: "mock" },
    "aws:index/getPartition:getPartition": { id: "aws", partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws" },
};

/** A created database's address, as the look-up of its identifier answers: `aws.rds.Instance.address`, `aws.rds.Cluster.endpoint`. */
const DATABASE_LOOKUP_BY_TYPE: Record<string, string> = {
    "aws:rds/instance:Instance": "aws:rds/getInstance:getInstance",
    "aws:rds/cluster:Cluster": "aws:rds/getCluster:getCluster",
};

/** Look-ups whose answer depends on what is looked up: an RDS database's address from its identifier. */
const CALLS_BY_ARGUMENT: Record<string, (inputs: Record<string, unknown>) => Record<string, unknown>> = {
    "aws:rds/getInstance:getInstance": (inputs) => {
        const identifier = String(inputs.dbInstanceIdentifier ?? inputs.identifier);
        return { dbInstanceIdentifier: identifier, address: `${identifier}.mock.${MOCK_REGION}.rds.amazonaws.com` };
    },
    "aws:rds/getCluster:getCluster": (inputs) => ({
        clusterIdentifier: String(inputs.clusterIdentifier),
        endpoint: `${String(inputs.clusterIdentifier)}.cluster-mock.${MOCK_REGION}.rds.amazonaws.com`,
    }),
};

/**
 * Mocks that record every custom resource. Auto-named resources get a
 * deterministic physical name (logical name + `-mock`) so two runs of the
 * program differ only where the program's inputs differ.
 */
export interface MockNaming {
    /**
     * How an auto-named resource's physical name is made. `logical`: its
     * logical name + `-mock`, the same in every run. `byReplacingInputs`: also a
     * hash of the inputs whose change replaces it (per `replaceOnChange.ts`), so
     * that a replaced resource gets a new name as AWS gives it one, and what
     * references that name changes too (the benchmarks' baseline needs this).
     * @default "logical"
     */
    readonly physicalNames?: "logical" | "byReplacingInputs";
}

export function recordingMocks(
    stackOutputs: Record<string, unknown> = {},
    naming: MockNaming = {},
    self?: { readonly project: string; readonly stack: string },
): {
    mocks: pulumi.runtime.Mocks;
    registered: RegisteredResource[];
    optionsByKey: Map<string, RegisteredOptions>;
} {
    const registered: RegisteredResource[] = [];
    const optionsByKey = new Map<string, RegisteredOptions>();
    const mocks: pulumi.runtime.Mocks = {
        newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
            const inputs = (args.inputs ?? {}) as Record<string, unknown>;
            // A StackReference reads another stack's outputs (the program
            // reads its own, for the quarantine ledger): answer with the
            // outputs given, and do not count it as a managed resource.
            // Another stack's (a user's network stack, say) has no outputs offline.
            if (args.type === "pulumi:pulumi:StackReference") {
                const isSelf = self === undefined || String(inputs.name).endsWith(`/${self.project}/${self.stack}`);
                return { id: String(inputs.name), state: { name: inputs.name, outputs: isSelf ? stackOutputs : {}, secretOutputNames: [] } };
            }
            if (args.custom !== false) {
                const options = optionsByKey.get(`${args.type}::${args.name}`);
                registered.push({ type: args.type, name: args.name, inputs, ...(options === undefined ? {} : { options }) });
            }
            const physicalName =
                typeof inputs.name === "string"
                    ? inputs.name
                    : naming.physicalNames === "byReplacingInputs" && REPLACE_ON_CHANGE[args.type] !== undefined
                      ? `${args.name}-${replacingInputsHash(args.type, inputs)}`
                      : `${args.name}-mock`;
            return {
                id: `${physicalName}-id`,
                state: {
                    ...inputs,
                    name: physicalName,
                    arn: `arn:aws:mock:${MOCK_REGION}:${MOCK_ACCOUNT_ID}:${args.type}/${physicalName}`,
                    ...CALLS_BY_ARGUMENT[DATABASE_LOOKUP_BY_TYPE[args.type]]?.(inputs),
                },
            };
        },
        call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
            const byArgument = CALLS_BY_ARGUMENT[args.token];
            if (byArgument !== undefined) return byArgument(args.inputs as Record<string, unknown>);
            const result = FIXED_CALL_RESULTS[args.token];
            if (result === undefined) throw new Error(`unexpected provider call ${args.token} under the mock runtime`);
            return result;
        },
    };
    return { mocks, registered, optionsByKey };
}

/** The slice of the engine's RegisterResourceRequest this module reads. */
interface RegisterResourceRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getDependenciesList(): string[];
    getRetainondelete(): boolean | undefined;
    getProtect(): boolean | undefined;
    getCustomtimeouts(): { getCreate(): string; getUpdate(): string } | undefined;
    getIgnorechangesList(): string[];
}

interface HookableMonitor {
    registerResource(request: RegisterResourceRequest, callback: (error: unknown, response: unknown) => void): Promise<void>;
}

/**
 * Install recording mocks as the process's Pulumi runtime. Newresource mocks
 * do not see resource options, so the mock monitor (standing for the engine)
 * is hooked to record parent, dependencies, retainOnDelete, custom timeouts
 * and ignoreChanges, which tests, `mlops plan` and the policy pack's tests need.
 */
/** A short hash of the inputs whose change replaces a resource of this type. */
function replacingInputsHash(type: string, inputs: Record<string, unknown>): string {
    const replacing = Object.keys(inputs)
        .filter((key) => changeReplaces(type, key))
        .sort()
        .map((key) => [key, inputs[key]]);
    return createHash("sha256").update(JSON.stringify(replacing)).digest("hex").slice(0, 8);
}

export async function installRecordingMocks(
    stack = "plan",
    stackOutputs: Record<string, unknown> = {},
    naming: MockNaming = {},
    project = "mlops",
): Promise<RegisteredResource[]> {
    const { mocks, registered, optionsByKey } = recordingMocks(stackOutputs, naming, { project, stack });
    // "organization" is what the DIY (file) backend calls every organization.
    await pulumi.runtime.setMocks(mocks, project, stack, false, "organization");
    const monitor = pulumi.runtime.getMonitor() as unknown as HookableMonitor;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (request, callback) => {
        const timeouts = request.getCustomtimeouts();
        const ignoreChanges = request.getIgnorechangesList();
        optionsByKey.set(`${request.getType()}::${request.getName()}`, {
            parent: request.getParent(),
            dependencies: request.getDependenciesList(),
            retainOnDelete: request.getRetainondelete() === true,
            protect: request.getProtect() === true,
            ...(timeouts === undefined || (timeouts.getCreate() === "" && timeouts.getUpdate() === "")
                ? {}
                : { customTimeouts: { create: timeouts.getCreate(), update: timeouts.getUpdate() } }),
            ...(ignoreChanges.length === 0 ? {} : { ignoreChanges }),
        });
        return register(request, callback);
    };
    return registered;
}

/**
 * Declare the stack for `config` under mocks and return what was registered.
 * The mock runtime is process-global: call this once per process (or once
 * per test file), never twice in one runtime.
 */
export async function recordProgram(config: StackConfig, stack = "plan", options: DeclareOptions = {}): Promise<RegisteredResource[]> {
    const registered = await installRecordingMocks(stack);
    declareModelServing(config, options);
    // Wait for every outstanding registration, including those that waited
    // on other resources' outputs.
    await pulumi.runtime.disconnect();
    return registered;
}
