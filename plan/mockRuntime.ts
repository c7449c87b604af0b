/**
 * Run the program under Pulumi's mock runtime and record what it registers.
 * The mocks stand for the Pulumi engine and the AWS provider: every resource
 * "creates" with its inputs as outputs, and the provider functions the
 * program calls answer with a fixed test account. Any other call throws, so a
 * new invoke cannot slip into the program unnoticed.
 */
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { declareModelServing } from "../program";

export interface RegisteredResource {
    /** Pulumi type token, e.g. `aws:sagemaker/endpoint:Endpoint`. */
    readonly type: string;
    /** Logical name. */
    readonly name: string;
    /** Inputs as the engine would receive them. */
    readonly inputs: Record<string, unknown>;
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

/**
 * Mocks that record every custom resource. Auto-named resources get a
 * deterministic physical name (logical name + `-mock`) so two runs of the
 * program differ only where the program's inputs differ.
 */
export function recordingMocks(): { mocks: pulumi.runtime.Mocks; registered: RegisteredResource[] } {
    const registered: RegisteredResource[] = [];
    const mocks: pulumi.runtime.Mocks = {
        newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
            const inputs = (args.inputs ?? {}) as Record<string, unknown>;
            if (args.custom !== false) registered.push({ type: args.type, name: args.name, inputs });
            const physicalName = typeof inputs.name === "string" ? inputs.name : `${args.name}-mock`;
            return {
                id: `${physicalName}-id`,
                state: { ...inputs, name: physicalName, arn: `arn:aws:mock:${MOCK_REGION}:${MOCK_ACCOUNT_ID}:${args.type}/${physicalName}` },
            };
        },
        call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
            const result = FIXED_CALL_RESULTS[args.token];
            if (result === undefined) throw new Error(`unexpected provider call ${args.token} under the mock runtime`);
            return result;
        },
    };
    return { mocks, registered };
}

/**
 * Declare the stack for `config` under mocks and return what was registered.
 * The mock runtime is process-global: call this once per process (or once
 * per test file), never twice in one runtime.
 */
export async function recordProgram(config: StackConfig, stack = "plan"): Promise<RegisteredResource[]> {
    const { mocks, registered } = recordingMocks();
    await pulumi.runtime.setMocks(mocks, "mlops-rollback", stack, false);
    declareModelServing(config);
    // Wait for every outstanding registration, including those that waited
    // on other resources' outputs.
    await pulumi.runtime.disconnect();
    return registered;
}
