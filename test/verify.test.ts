/**
 * The check after an update: does what serves match what is pinned? A
 * rollback exits 1 when it does not (README), so every mismatch the
 * verifiers can report is asserted here as `ok: false` with its sentence.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { SageMakerClient, type DescribeEndpointCommand } from "@aws-sdk/client-sagemaker";
import * as k8s from "@kubernetes/client-node";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
    checkKubernetesService,
    checkSageMakerEndpoint,
    KubernetesVerifier,
    readyEndpointsOf,
    SageMakerVerifier,
    verifierFor,
    type EndpointDescription,
} from "../rollback/verify";

describe("checkSageMakerEndpoint", () => {
    it("passes only when the endpoint is InService on the pinned version's config", () => {
        expect(checkSageMakerEndpoint({ EndpointStatus: "InService", EndpointConfigName: "c3" }, "c3", "3")).toEqual({
            ok: true,
            detail: "the endpoint is InService on c3 (version 3)",
        });
        expect(checkSageMakerEndpoint({ EndpointStatus: "InService", EndpointConfigName: "c4" }, "c3", "3")).toEqual({
            ok: false,
            detail: "the endpoint serves config c4, not c3 of version 3; SageMaker may have rolled the update back",
        });
        expect(checkSageMakerEndpoint({ EndpointStatus: "Updating", EndpointConfigName: "c3" }, "c3", "3")).toEqual({
            ok: false,
            detail: "the endpoint is Updating, not InService",
        });
    });
});

describe("SageMakerVerifier", () => {
    const outputs = {
        sagemaker: {
            endpointName: "fraud-detector-endpoint-xyz",
            endpointConfigNames: { "2": "fraud-detector-config-2-def", "3": "fraud-detector-config-3-abc" },
        },
    };

    /** Stands for the SageMaker API's DescribeEndpoint: records what it is asked and answers with `description`. */
    function sagemaker(description: EndpointDescription) {
        const asked: unknown[] = [];
        const client = {
            send: (command: DescribeEndpointCommand) => {
                asked.push(command.input);
                return Promise.resolve(description);
            },
        };
        return { verifier: new SageMakerVerifier(client), asked };
    }

    it("asks SageMaker for the endpoint named in the stack outputs and passes when it is InService on the pinned config", async () => {
        const { verifier, asked } = sagemaker({ EndpointStatus: "InService", EndpointConfigName: "fraud-detector-config-3-abc" });
        expect(await verifier.verify(outputs, "3")).toEqual({ ok: true, detail: "the endpoint is InService on fraud-detector-config-3-abc (version 3)" });
        expect(asked).toEqual([{ EndpointName: "fraud-detector-endpoint-xyz" }]);
    });

    it("fails when the endpoint is InService on another version's config (SageMaker rolled the update back)", async () => {
        const { verifier } = sagemaker({ EndpointStatus: "InService", EndpointConfigName: "fraud-detector-config-2-def" });
        expect(await verifier.verify(outputs, "3")).toEqual({
            ok: false,
            detail: "the endpoint serves config fraud-detector-config-2-def, not fraud-detector-config-3-abc of version 3; SageMaker may have rolled the update back",
        });
    });

    it("fails when the endpoint answers with no config", async () => {
        const { verifier } = sagemaker({ EndpointStatus: "InService" });
        expect(await verifier.verify(outputs, "3")).toEqual({
            ok: false,
            detail: "the endpoint serves config (none), not fraud-detector-config-3-abc of version 3; SageMaker may have rolled the update back",
        });
    });

    it.each(["Updating", "RollingBack", "Failed", "UpdateRollbackFailed", "OutOfService", "SystemUpdating"])(
        "fails when the endpoint is %s, even on the pinned config",
        async (status) => {
            const { verifier } = sagemaker({ EndpointStatus: status, EndpointConfigName: "fraud-detector-config-3-abc" });
            expect(await verifier.verify(outputs, "3")).toEqual({ ok: false, detail: `the endpoint is ${status}, not InService` });
        },
    );

    it("fails when the endpoint answers with no status", async () => {
        const { verifier } = sagemaker({ EndpointConfigName: "fraud-detector-config-3-abc" });
        expect(await verifier.verify(outputs, "3")).toEqual({ ok: false, detail: "the endpoint is in an unknown state, not InService" });
    });

    it.each([
        ["no sagemaker output", {}],
        ["no endpoint name", { sagemaker: { endpointConfigNames: outputs.sagemaker.endpointConfigNames } }],
        ["no config for the pinned version", { sagemaker: { endpointName: "fraud-detector-endpoint-xyz", endpointConfigNames: { "2": "c2" } } }],
        ["no endpoint config names at all", { sagemaker: { endpointName: "fraud-detector-endpoint-xyz" } }],
    ])("fails without asking SageMaker when the stack outputs have %s", async (_, stackOutputs) => {
        const { verifier, asked } = sagemaker({ EndpointStatus: "InService", EndpointConfigName: "fraud-detector-config-3-abc" });
        expect(await verifier.verify(stackOutputs, "3")).toEqual({ ok: false, detail: "the stack outputs name no endpoint config for version 3" });
        expect(asked).toEqual([]);
    });

    it("passes SageMaker's refusal on (a missing endpoint): the CLI reports it as a check that could not run", async () => {
        // Stands for the SageMaker API's DescribeEndpoint on an endpoint that does not exist.
        const missing = Object.assign(new Error("Could not find endpoint fraud-detector-endpoint-xyz."), { name: "ValidationException" });
        const verifier = new SageMakerVerifier({ send: () => Promise.reject(missing) });
        await expect(verifier.verify(outputs, "3")).rejects.toBe(missing);
    });
});

describe("checkKubernetesService", () => {
    const selector = (version: string) => ({ "app.kubernetes.io/name": "fraud-detector", "mlops-rollback/version": version });

    it("passes only when the Service selects the pinned version and has ready endpoints", () => {
        expect(checkKubernetesService({ selector: selector("3"), readyEndpoints: 2 }, "3")).toEqual({
            ok: true,
            detail: "the Service selects version 3 with 2 ready endpoints",
        });
        expect(checkKubernetesService({ selector: selector("3"), readyEndpoints: 1 }, "3")).toEqual({
            ok: true,
            detail: "the Service selects version 3 with 1 ready endpoint",
        });
        expect(checkKubernetesService({ selector: selector("4"), readyEndpoints: 2 }, "3")).toEqual({
            ok: false,
            detail: "the Service selects version 4, not 3",
        });
        expect(checkKubernetesService({ selector: { "app.kubernetes.io/name": "fraud-detector" }, readyEndpoints: 2 }, "3")).toEqual({
            ok: false,
            detail: "the Service selects version (none), not 3",
        });
        expect(checkKubernetesService({ selector: selector("3"), readyEndpoints: 0 }, "3")).toEqual({
            ok: false,
            detail: "the Service selects version 3 but has no ready endpoints",
        });
    });
});

describe("ready endpoints of the pinned version", () => {
    it("counts ready (or unset, which means ready) endpoints of the pinned Deployment's pods only", () => {
        const endpoint = (name: string, ready?: boolean) => ({ targetRef: { kind: "Pod", name }, conditions: ready === undefined ? {} : { ready } });
        const endpoints = [
            endpoint("fraud-detector-2-7c9f8-abcde", true),
            endpoint("fraud-detector-2-7c9f8-fghij"),
            endpoint("fraud-detector-2-7c9f8-klmno", false),
            // A lagging slice still listing the old version's pods, and a Deployment whose name extends ours.
            endpoint("fraud-detector-3-5d6e7-pqrst", true),
            endpoint("fraud-detector-20-5d6e7-uvwxy", true),
        ];
        expect(readyEndpointsOf(endpoints, "fraud-detector-2")).toBe(2);
    });

    it("counts an endpoint with no conditions as ready, as the API says", () => {
        expect(readyEndpointsOf([{ targetRef: { kind: "Pod", name: "fraud-detector-2-7c9f8-abcde" } }], "fraud-detector-2")).toBe(1);
    });

    it("does not count endpoints that are not pods, even under the Deployment's name, nor pods with no name, nor endpoints with no target", () => {
        const endpoints = [
            { targetRef: { kind: "Node", name: "fraud-detector-2-7c9f8-abcde" }, conditions: { ready: true } },
            { targetRef: { kind: "Pod" }, conditions: { ready: true } },
            { conditions: { ready: true } },
        ];
        expect(readyEndpointsOf(endpoints, "fraud-detector-2")).toBe(0);
    });
});

describe("KubernetesVerifier", () => {
    const NAMESPACE = "ml";
    const SERVICE = "fraud-detector-service";
    const outputs = {
        kubernetes: { namespace: NAMESPACE, serviceName: SERVICE, deploymentNames: { "2": "fraud-detector-2", "3": "fraud-detector-3" } },
    };

    interface ClusterState {
        /** The Service's selector; undefined: the Service has no spec at all. */
        readonly selector: Record<string, string> | undefined;
        /** The endpoints of the Service's EndpointSlices: the pod each stands for and its ready condition. */
        readonly endpoints: readonly { readonly pod: string; readonly ready: boolean }[];
    }

    const servingVersion = (version: string, endpoints: ClusterState["endpoints"]): ClusterState => ({
        selector: { "app.kubernetes.io/name": "fraud-detector", "mlops-rollback/version": version },
        endpoints,
    });

    let close: (() => Promise<void>) | undefined;
    afterEach(async () => {
        await close?.();
        close = undefined;
    });

    /**
     * Stands for the Kubernetes API server (a real HTTP server on 127.0.0.1):
     * answers the Service read and the EndpointSlice list the verifier makes,
     * from `states` in turn (the last one repeats); anything else is a 404.
     */
    async function kubernetesApi(...states: ClusterState[]): Promise<{ kubeConfig: k8s.KubeConfig; server: string; requests: string[] }> {
        const requests: string[] = [];
        let answered = 0;
        const server = createServer((request: IncomingMessage, response: ServerResponse) => {
            const url = request.url ?? "";
            requests.push(`${request.method} ${decodeURIComponent(url)}`);
            const state = states[Math.min(answered, states.length - 1)];
            const json = (body: unknown) => response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
            if (url === `/api/v1/namespaces/${NAMESPACE}/services/${SERVICE}`) {
                const spec = state.selector === undefined ? {} : { spec: { selector: state.selector } };
                json({ apiVersion: "v1", kind: "Service", metadata: { name: SERVICE, namespace: NAMESPACE }, ...spec });
            } else if (url.startsWith(`/apis/discovery.k8s.io/v1/namespaces/${NAMESPACE}/endpointslices?`)) {
                answered++;
                json({
                    apiVersion: "discovery.k8s.io/v1",
                    kind: "EndpointSliceList",
                    metadata: {},
                    items: [
                        {
                            metadata: { name: `${SERVICE}-abcde`, namespace: NAMESPACE, labels: { "kubernetes.io/service-name": SERVICE } },
                            addressType: "IPv4",
                            // As the API server sends a slice with no endpoints: the list is null, not [].
                            endpoints:
                                state.endpoints.length === 0
                                    ? null
                                    : state.endpoints.map((endpoint, index) => ({
                                          addresses: [`10.0.0.${index + 1}`],
                                          conditions: { ready: endpoint.ready },
                                          targetRef: { kind: "Pod", name: endpoint.pod, namespace: NAMESPACE },
                                      })),
                        },
                    ],
                });
            } else {
                response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ kind: "Status", code: 404 }));
            }
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        close = () => new Promise<void>((resolve) => server.close(() => resolve()));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const kubeConfig = new k8s.KubeConfig();
        kubeConfig.loadFromOptions({
            // Plain HTTP to the stand-in: the client allows it only with TLS verification off.
            clusters: [{ name: "test", server: url, skipTLSVerify: true }],
            users: [{ name: "test" }],
            contexts: [{ name: "test", cluster: "test", user: "test", namespace: NAMESPACE }],
            currentContext: "test",
        });
        return { kubeConfig, server: url, requests };
    }

    const SERVICE_READ = `GET /api/v1/namespaces/${NAMESPACE}/services/${SERVICE}`;
    const SLICES_LIST = `GET /apis/discovery.k8s.io/v1/namespaces/${NAMESPACE}/endpointslices?labelSelector=kubernetes.io/service-name=${SERVICE}`;

    it("reads the Service and its EndpointSlices named in the stack outputs and passes when the pinned version's pods are ready", async () => {
        const { kubeConfig, requests } = await kubernetesApi(
            servingVersion("2", [
                { pod: "fraud-detector-2-7c9f8-abcde", ready: true },
                { pod: "fraud-detector-2-7c9f8-fghij", ready: true },
            ]),
        );
        expect(await new KubernetesVerifier(kubeConfig, 0).verify(outputs, "2")).toEqual({
            ok: true,
            detail: "the Service selects version 2 with 2 ready endpoints",
        });
        expect(requests).toEqual([SERVICE_READ, SLICES_LIST]);
    });

    it("fails when the Service selects another version", async () => {
        const { kubeConfig } = await kubernetesApi(servingVersion("3", [{ pod: "fraud-detector-3-5d6e7-pqrst", ready: true }]));
        expect(await new KubernetesVerifier(kubeConfig, 0).verify(outputs, "2")).toEqual({ ok: false, detail: "the Service selects version 3, not 2" });
    });

    it("fails when the Service selects no version at all", async () => {
        const { kubeConfig } = await kubernetesApi({
            selector: { "app.kubernetes.io/name": "fraud-detector" },
            endpoints: [{ pod: "fraud-detector-2-7c9f8-abcde", ready: true }],
        });
        expect(await new KubernetesVerifier(kubeConfig, 0).verify(outputs, "2")).toEqual({ ok: false, detail: "the Service selects version (none), not 2" });
    });

    it("fails when the Service has no spec, as selecting no version", async () => {
        const { kubeConfig } = await kubernetesApi({ selector: undefined, endpoints: [{ pod: "fraud-detector-2-7c9f8-abcde", ready: true }] });
        expect(await new KubernetesVerifier(kubeConfig, 0).verify(outputs, "2")).toEqual({ ok: false, detail: "the Service selects version (none), not 2" });
    });

    it("asks again when the first answer comes exactly at the end of the settle time: the deadline itself is still within it", async () => {
        const { kubeConfig, requests } = await kubernetesApi(
            servingVersion("2", [{ pod: "fraud-detector-3-5d6e7-pqrst", ready: true }]),
            servingVersion("2", [{ pod: "fraud-detector-2-7c9f8-abcde", ready: true }]),
        );
        // No settle time, and a clock that stands still through the first round of requests: that answer comes at the deadline.
        const start = Date.now();
        vi.spyOn(Date, "now").mockImplementation(() => (requests.length <= 2 ? start : start + 1));
        try {
            expect(await new KubernetesVerifier(kubeConfig, 0).verify(outputs, "2")).toEqual({
                ok: true,
                detail: "the Service selects version 2 with 1 ready endpoint",
            });
        } finally {
            vi.restoreAllMocks();
        }
        expect(requests).toEqual([SERVICE_READ, SLICES_LIST, SERVICE_READ, SLICES_LIST]);
    });

    it("fails when the pinned version's pods are not ready", async () => {
        const { kubeConfig } = await kubernetesApi(servingVersion("2", [{ pod: "fraud-detector-2-7c9f8-abcde", ready: false }]));
        expect(await new KubernetesVerifier(kubeConfig, 0).verify(outputs, "2")).toEqual({
            ok: false,
            detail: "the Service selects version 2 but has no ready endpoints",
        });
    });

    it("fails, saying so, when the Service selects the pinned version and its slice has no endpoints at all (a null list)", async () => {
        const { kubeConfig } = await kubernetesApi(servingVersion("2", []));
        expect(await new KubernetesVerifier(kubeConfig, 0).verify(outputs, "2")).toEqual({
            ok: false,
            detail: "the Service selects version 2 but has no ready endpoints",
        });
    });

    it("fails when the EndpointSlices still list only the old version's ready pods", async () => {
        const { kubeConfig } = await kubernetesApi(servingVersion("2", [{ pod: "fraud-detector-3-5d6e7-pqrst", ready: true }]));
        expect(await new KubernetesVerifier(kubeConfig, 0).verify(outputs, "2")).toEqual({
            ok: false,
            detail: "the Service selects version 2 but has no ready endpoints",
        });
    });

    it("asks again while the EndpointSlices catch up with the new selector, and passes once they have", async () => {
        const { kubeConfig, requests } = await kubernetesApi(
            servingVersion("2", [{ pod: "fraud-detector-3-5d6e7-pqrst", ready: true }]),
            servingVersion("2", [{ pod: "fraud-detector-2-7c9f8-abcde", ready: true }]),
        );
        expect(await new KubernetesVerifier(kubeConfig, 30).verify(outputs, "2")).toEqual({
            ok: true,
            detail: "the Service selects version 2 with 1 ready endpoint",
        });
        expect(requests).toEqual([SERVICE_READ, SLICES_LIST, SERVICE_READ, SLICES_LIST]);
    });

    it.each([
        ["no kubernetes output", {}],
        ["no Service name", { kubernetes: { namespace: NAMESPACE, deploymentNames: outputs.kubernetes.deploymentNames } }],
        ["no namespace", { kubernetes: { serviceName: SERVICE, deploymentNames: outputs.kubernetes.deploymentNames } }],
        ["no Deployment names at all", { kubernetes: { namespace: NAMESPACE, serviceName: SERVICE } }],
        ["no Deployment for the pinned version", { kubernetes: { namespace: NAMESPACE, serviceName: SERVICE, deploymentNames: { "3": "fraud-detector-3" } } }],
    ])("fails without asking the cluster when the stack outputs have %s", async (_, stackOutputs) => {
        const { kubeConfig, requests } = await kubernetesApi(servingVersion("2", [{ pod: "fraud-detector-2-7c9f8-abcde", ready: true }]));
        expect(await new KubernetesVerifier(kubeConfig, 0).verify(stackOutputs, "2")).toEqual({
            ok: false,
            detail: "the stack outputs name no Service or no Deployment for version 2",
        });
        expect(requests).toEqual([]);
    });

    /** A kubeconfig file's content for the stand-in API server at `server`. */
    const kubeconfigFor = (server: string) =>
        [
            "apiVersion: v1",
            "kind: Config",
            // Plain HTTP to the stand-in: the client allows it only with TLS verification off.
            `clusters: [{ name: test, cluster: { server: "${server}", insecure-skip-tls-verify: true } }]`,
            "users: [{ name: test, user: {} }]",
            "contexts: [{ name: test, context: { cluster: test, user: test } }]",
            "current-context: test",
        ].join("\n");

    /** A kubeconfig file holding `content`, in a fresh temporary directory. */
    function kubeconfigFile(content: string): string {
        const file = path.join(mkdtempSync(path.join(tmpdir(), "verify-kubeconfig-")), "config");
        writeFileSync(file, content);
        return file;
    }

    it("asks the cluster that the stack's kubernetes:kubeconfig names", async () => {
        const { server, requests } = await kubernetesApi(servingVersion("2", [{ pod: "fraud-detector-2-7c9f8-abcde", ready: true }]));
        expect(await verifierFor("kubernetes", { kubeconfig: kubeconfigFor(server) }).verify(outputs, "2")).toEqual({
            ok: true,
            detail: "the Service selects version 2 with 1 ready endpoint",
        });
        expect(requests).toEqual([SERVICE_READ, SLICES_LIST]);
    });

    it("asks the cluster of the kubeconfig file whose path kubernetes:kubeconfig gives", async () => {
        const { server, requests } = await kubernetesApi(servingVersion("2", [{ pod: "fraud-detector-2-7c9f8-abcde", ready: true }]));
        expect(await verifierFor("kubernetes", { kubeconfig: kubeconfigFile(kubeconfigFor(server)) }).verify(outputs, "2")).toEqual({
            ok: true,
            detail: "the Service selects version 2 with 1 ready endpoint",
        });
        expect(requests).toEqual([SERVICE_READ, SLICES_LIST]);
    });

    it("without kubernetes:kubeconfig, asks the cluster that KUBECONFIG names, as kubectl does", async () => {
        const { server, requests } = await kubernetesApi(servingVersion("2", [{ pod: "fraud-detector-2-7c9f8-abcde", ready: true }]));
        vi.stubEnv("KUBECONFIG", kubeconfigFile(kubeconfigFor(server)));
        try {
            expect(await verifierFor("kubernetes").verify(outputs, "2")).toEqual({
                ok: true,
                detail: "the Service selects version 2 with 1 ready endpoint",
            });
        } finally {
            vi.unstubAllEnvs();
        }
        expect(requests).toEqual([SERVICE_READ, SLICES_LIST]);
    });
});

describe("verifierFor sagemaker", () => {
    const outputs = { sagemaker: { endpointName: "fraud-detector-endpoint-xyz", endpointConfigNames: { "3": "fraud-detector-config-3-abc" } } };

    afterEach(() => {
        vi.restoreAllMocks();
        vi.unstubAllEnvs();
    });

    /** Verifies through `verifierFor("sagemaker", settings)` against a stand-in DescribeEndpoint; returns the result and the regions asked. */
    async function verifyInRegion(settings: { awsRegion?: string }) {
        const regions: string[] = [];
        // Stands for the SageMaker API's DescribeEndpoint, and records the region of the client that asks.
        const describeEndpoint = async function (this: SageMakerClient): Promise<EndpointDescription> {
            regions.push(await this.config.region());
            return { EndpointStatus: "InService", EndpointConfigName: "fraud-detector-config-3-abc" };
        };
        // `send` is overloaded (promise or callback): the stand-in takes the promise form only.
        vi.spyOn(SageMakerClient.prototype, "send").mockImplementation(describeEndpoint as never);
        return { result: await verifierFor("sagemaker", settings).verify(outputs, "3"), regions };
    }

    it("asks SageMaker in the stack's aws:region, whatever the environment says", async () => {
        vi.stubEnv("AWS_REGION", "us-east-1");
        expect(await verifyInRegion({ awsRegion: "eu-west-1" })).toEqual({
            result: { ok: true, detail: "the endpoint is InService on fraud-detector-config-3-abc (version 3)" },
            regions: ["eu-west-1"],
        });
    });

    it("without aws:region, asks SageMaker in the environment's region, as the AWS CLI does", async () => {
        vi.stubEnv("AWS_REGION", "us-east-1");
        expect(await verifyInRegion({})).toEqual({
            result: { ok: true, detail: "the endpoint is InService on fraud-detector-config-3-abc (version 3)" },
            regions: ["us-east-1"],
        });
    });
});
