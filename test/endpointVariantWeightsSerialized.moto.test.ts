/**
 * The live-weights dynamic provider as Pulumi ships it: serialized by
 * `pulumi.runtime.serializeFunction` (what `pulumi.dynamic.Resource` stores in
 * the state), loaded as a module resolving from a user project's directory
 * (as Pulumi's Node.js dynamic provider host loads it), and run against
 * emulated SageMaker (moto on loopback) through the AWS SDK it requires
 * itself. Proves the serialized text carries no module of this package and
 * finds the SDK where a user's project installs it.
 */
import {
    CreateEndpointCommand,
    CreateEndpointConfigCommand,
    CreateModelCommand,
    DeleteEndpointCommand,
    SageMakerClient,
    UpdateEndpointCommand,
    UpdateEndpointWeightsAndCapacitiesCommand,
} from "@aws-sdk/client-sagemaker";
import * as pulumi from "@pulumi/pulumi";
import Module from "node:module";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { VariantWeight } from "../catalog/endpointVariants";
import { endpointVariantWeightsProvider, type EndpointVariantWeightsInputs } from "../components/endpointVariantWeights";
import { motoClientOptions, motoPythonForTests, MOTO_ACCOUNT, MOTO_CREDENTIALS, MOTO_REGION, startMoto, type MotoServer } from "../test-aws/motoServer";

const motoPython = motoPythonForTests("the serialized live-weights provider");
const ENDPOINT = "fraud-detector-endpoint-hot";
/** A user's project directory: the serialized provider resolves `@aws-sdk/client-sagemaker` from here. */
const PROJECT_DIR = path.resolve(__dirname, "..", "examples", "sagemaker");

type Provider = typeof endpointVariantWeightsProvider;

/** Serialize as `pulumi.dynamic.Resource` does, then load the text as the provider host does. */
async function serializedProvider(): Promise<{ provider: Provider; text: string }> {
    const { text } = await pulumi.runtime.serializeFunction(() => endpointVariantWeightsProvider, { allowSecrets: true });
    const filename = path.join(PROJECT_DIR, "__pulumi_dynamic_provider.js");
    const loaded = new Module(filename) as Module & { _compile(code: string, file: string): void; paths: string[] };
    loaded.filename = filename;
    loaded.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(PROJECT_DIR);
    loaded._compile(text, filename);
    return { provider: (loaded.exports as { handler: () => Provider }).handler(), text };
}

describe.skipIf(motoPython === undefined)("the live-weights provider, serialized, against moto", () => {
    let server: MotoServer;
    let sagemaker: SageMakerClient;
    let provider: Provider;
    let text: string;
    const saved: Record<string, string | undefined> = {};

    beforeAll(async () => {
        server = await startMoto(motoPython as string);
        sagemaker = new SageMakerClient(motoClientOptions(server));
        ({ provider, text } = await serializedProvider());
        // What `pulumi up` would give the provider host: credentials and region from the environment; here the endpoint is loopback.
        const env = {
            AWS_ENDPOINT_URL_SAGEMAKER: server.endpoint,
            AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
            AWS_REGION: MOTO_REGION,
        };
        for (const [key, value] of Object.entries(env)) {
            saved[key] = process.env[key];
            process.env[key] = value;
        }
    }, 60_000);
    afterAll(async () => {
        for (const [key, value] of Object.entries(saved)) {
            if (value === undefined) delete process.env[key];
            else process.env[key] = value;
        }
        await server?.stop();
    });

    beforeEach(async () => {
        await server.reset();
        for (const version of ["2", "3"]) {
            await sagemaker.send(
                new CreateModelCommand({
                    ModelName: `fraud-detector-model-${version}`,
                    ExecutionRoleArn: `arn:aws:iam::${MOTO_ACCOUNT}:role/sagemaker`,
                    PrimaryContainer: { Image: `${MOTO_ACCOUNT}.dkr.ecr.${MOTO_REGION}.amazonaws.com/fraud-detector:${version}` },
                }),
            );
        }
        await sagemaker.send(
            new CreateEndpointConfigCommand({
                EndpointConfigName: "fraud-detector-config-3",
                ProductionVariants: [
                    {
                        VariantName: "primary",
                        ModelName: "fraud-detector-model-3",
                        InstanceType: "ml.m5.large",
                        InitialVariantWeight: 1,
                        InitialInstanceCount: 2,
                    },
                    {
                        VariantName: "standby",
                        ModelName: "fraud-detector-model-2",
                        InstanceType: "ml.m5.large",
                        InitialVariantWeight: 0,
                        InitialInstanceCount: 2,
                    },
                ],
            }),
        );
        await sagemaker.send(new CreateEndpointCommand({ EndpointName: ENDPOINT, EndpointConfigName: "fraud-detector-config-3" }));
    });

    const inputs = (primary: number, standby: number): EndpointVariantWeightsInputs => ({
        endpointName: ENDPOINT,
        region: MOTO_REGION,
        variants: [
            { variantName: "primary", weight: primary, instanceCount: 2 },
            { variantName: "standby", weight: standby, instanceCount: 2 },
        ],
    });
    const weightsOf = (variants: readonly VariantWeight[] | undefined) => (variants ?? []).map((v) => `${v.variantName}:${v.weight}x${v.instanceCount}`);

    it("carries no module of this package: only the AWS SDK, required by name", () => {
        expect(text).toContain('require("@aws-sdk/client-sagemaker")');
        expect(text).not.toMatch(/require\("\.{1,2}\//);
        expect(text).not.toContain("mlops-rollback");
    });

    it("read shows the live weights, so that a weight moved outside the stack is drift", async () => {
        expect(weightsOf((await provider.read?.(ENDPOINT, inputs(1, 0)))?.props?.variants)).toEqual(["primary:1x2", "standby:0x2"]);
        await sagemaker.send(
            new UpdateEndpointWeightsAndCapacitiesCommand({
                EndpointName: ENDPOINT,
                DesiredWeightsAndCapacities: [
                    { VariantName: "primary", DesiredWeight: 0 },
                    { VariantName: "standby", DesiredWeight: 1 },
                ],
            }),
        );
        expect(weightsOf((await provider.read?.(ENDPOINT, inputs(1, 0)))?.props?.variants)).toEqual(["primary:0x2", "standby:1x2"]);
    });

    it("an update to the weights the endpoint runs makes no call; one to other weights makes exactly one", async () => {
        const unchanged = await provider.update?.(ENDPOINT, inputs(1, 0), inputs(1, 0));
        expect(weightsOf(unchanged?.outs?.variants)).toEqual(["primary:1x2", "standby:0x2"]);
        expect(await server.weightsCalls()).toEqual([]);

        const moved = await provider.update?.(ENDPOINT, inputs(1, 0), inputs(0, 1));
        expect(weightsOf(moved?.outs?.variants)).toEqual(["primary:0x2", "standby:1x2"]);
        expect(await server.weightsCalls()).toHaveLength(1);
        // No new config and no UpdateEndpoint (the one CreateEndpointConfig is the test's own seeding).
        const operations = (await server.calls()).map((call) => call.operation);
        expect(operations.filter((operation) => operation === "UpdateEndpoint")).toEqual([]);
        expect(operations.filter((operation) => operation === "CreateEndpointConfig")).toHaveLength(1);
    });

    it("diff sees weights an UpdateEndpoint reset under it (the state alone says nothing changed), and the update moves them back with one call", async () => {
        // The stack moved the weight to the standby (a rollback within the config) ...
        const rolledBack = await provider.update?.(ENDPOINT, inputs(1, 0), inputs(0, 1));
        expect(weightsOf(rolledBack?.outs?.variants)).toEqual(["primary:0x2", "standby:1x2"]);
        // ... then something redeployed the config (UpdateEndpoint resets the variants to its initial weights: 3 again).
        await sagemaker.send(new UpdateEndpointCommand({ EndpointName: ENDPOINT, EndpointConfigName: "fraud-detector-config-3" }));
        expect((await provider.diff?.(ENDPOINT, inputs(0, 1), inputs(0, 1)))?.changes).toBe(true);
        const repaired = await provider.update?.(ENDPOINT, inputs(0, 1), inputs(0, 1));
        expect(weightsOf(repaired?.outs?.variants)).toEqual(["primary:0x2", "standby:1x2"]);
        expect(await server.weightsCalls()).toHaveLength(2);
    });

    it("another endpoint (the Endpoint was replaced) replaces the resource; a deleted endpoint reads as gone, so refresh drops it", async () => {
        expect(await provider.diff?.(ENDPOINT, inputs(1, 0), { ...inputs(1, 0), endpointName: "fraud-detector-endpoint-new" })).toMatchObject({
            changes: true,
            replaces: ["endpointName"],
        });
        await sagemaker.send(new DeleteEndpointCommand({ EndpointName: ENDPOINT }));
        expect(await provider.read?.(ENDPOINT, inputs(1, 0))).toEqual({});
    });

    it("diff reports a change only when the variants' weights or counts differ", async () => {
        expect((await provider.diff?.(ENDPOINT, inputs(1, 0), inputs(1, 0)))?.changes).toBe(false);
        expect((await provider.diff?.(ENDPOINT, inputs(1, 0), inputs(0, 1)))?.changes).toBe(true);
        const fewer = { ...inputs(1, 0), variants: [{ variantName: "primary", weight: 1, instanceCount: 3 }, inputs(1, 0).variants[1]] };
        expect((await provider.diff?.(ENDPOINT, inputs(1, 0), fewer))?.changes).toBe(true);
    });
});
