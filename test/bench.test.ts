/**
 * The benchmarks' own logic: what counts as a rollback's critical path, the
 * baseline program, and the report's arithmetic. The benchmarks themselves
 * run with `npm run bench`, never here: timings in unit tests lie on a shared
 * machine.
 */
import { describe, expect, it } from "vitest";
import { rawConfigFromStackFile } from "../config/sources";
import { growsLinearly, median, renderBenchmarks, type BenchResults } from "../bench/report";
import { compareRollbackOperations, resourceKeyOfUrn, rollbackOperations } from "../bench/rollbackOperations";
import { parseStackConfig } from "../config/schema";
import { FIGURE_SOURCES, restoreBudget } from "../plan/restoreBudget";
import type { RegisteredResource } from "../plan/mockRuntime";

const resource = (type: string, name: string, inputs: Record<string, unknown>, dependencies: string[] = []): RegisteredResource => ({
    type,
    name,
    inputs,
    options: { parent: "", dependencies, retainOnDelete: false, protect: false },
});

describe("a rollback's critical path", () => {
    it("reads a child's type and name from its URN", () => {
        expect(resourceKeyOfUrn("urn:pulumi:s::p::mlops:k8s:ModelEndpoint$kubernetes:core/v1:Service::m-service")).toBe(
            "kubernetes:core/v1:Service::m-service",
        );
    });

    it("holds the switch and what it waits for, directly or transitively; not what changes beside it", () => {
        const urn = (type: string, name: string) => `urn:pulumi:s::p::${type}::${name}`;
        const before = [resource("t:a", "a", { v: 1 }), resource("t:b", "b", { v: 1 }), resource("t:switch", "s", { v: 1 }), resource("t:side", "c", { v: 1 })];
        const after = [
            resource("t:a", "a", { v: 2 }),
            resource("t:b", "b", { v: 2 }, [urn("t:a", "a")]),
            resource("t:switch", "s", { v: 2 }, [urn("t:b", "b")]),
            resource("t:side", "c", { v: 2 }),
        ];
        const operations = rollbackOperations(before, after, { type: "t:switch", name: "s" });
        expect(operations.criticalOperations.map((o) => o.split(" ")[2]).sort()).toEqual(["a", "b", "s"]);
        expect(operations.all.replace + operations.all.update).toBe(4);
    });

    it("on the example stacks: ours moves one pointer, the baseline rebuilds what it rolls back to", async () => {
        const kubernetes = await compareRollbackOperations(rawConfigFromStackFile("stacks/Pulumi.kubernetes-example.yaml"), "2");
        expect(kubernetes.mlops.criticalOperations).toEqual(["update kubernetes:core/v1:Service fraud-detector-service"]);
        expect(kubernetes.naive.criticalOperations).toEqual(["update kubernetes:apps/v1:Deployment fraud-detector"]);
        const sagemaker = await compareRollbackOperations(rawConfigFromStackFile("stacks/Pulumi.sagemaker-example.yaml"), "2");
        expect(sagemaker.mlops.criticalPath).toMatchObject({ create: 0, replace: 0 });
        expect(sagemaker.mlops.criticalOperations).toContain("update aws:sagemaker/endpoint:Endpoint fraud-detector-endpoint");
        // A replaced Model gets a new name, so the config naming it is replaced too, then the Endpoint moves.
        expect(sagemaker.naive.criticalOperations.sort()).toEqual([
            "replace aws:sagemaker/endpointConfiguration:EndpointConfiguration fraud-detector-config",
            "replace aws:sagemaker/model:Model fraud-detector-model",
            "update aws:sagemaker/endpoint:Endpoint fraud-detector-endpoint",
        ]);
    }, 60_000);
});

describe("the report", () => {
    it("takes the median of odd and even counts", () => {
        expect(median([3, 1, 2])).toBe(2);
        expect(median([4, 1, 3, 2])).toBe(2.5);
        expect(median([])).toBeNaN();
    });

    it("calls growth linear when the time per resource holds from the middle size to the largest", () => {
        const run = (endpoints: number, milliseconds: number) => ({
            target: "sagemaker" as const,
            warm: 1,
            endpoints,
            resources: endpoints * 8,
            milliseconds,
            peakRssMiB: 200,
        });
        expect(growsLinearly([run(1, 100), run(10, 800), run(100, 8400)])).toEqual({ linear: true, perResourceRatio: 1.05 });
        expect(growsLinearly([run(1, 100), run(10, 800), run(100, 16000)]).linear).toBe(false);
    });

    const results: BenchResults = {
        date: "2026-11-27T19:00:00.000Z",
        machine: { cpu: "AMD EPYC", cores: 2, memoryGiB: 24, os: "Linux 6" },
        versions: { node: "v20.20.2", pulumi: "v3.248.0" },
        rounds: 3,
        modelLoadSeconds: 20,
        operations: [],
        programCost: [],
        sandbox: {
            modes: [
                {
                    mode: "hot",
                    description: "hot standby",
                    served: [1.1, 0.9, 1.0],
                    command: [5.2, 5.0, 5.6],
                    criticalPathWrites: [1, 1, 1],
                    firstRoundWrites: ["patch services fraud/fraud-detector (node-fetch/1.0, 200)"],
                },
                {
                    mode: "partial",
                    description: "partial standby",
                    served: [20, 22, 21],
                    command: [30, 31, 32],
                    criticalPathWrites: [6, 6, 7],
                    firstRoundWrites: [],
                },
            ],
            naive: [42, 40, 41],
            naiveCommand: [43, 42, 44],
        },
        restoreBudgets: [
            {
                stack: "sagemaker-example",
                description: "The example as it is.",
                budget: restoreBudget(parseStackConfig(rawConfigFromStackFile("stacks/Pulumi.sagemaker-example.yaml")), []),
            },
        ],
        seconds: 600,
    };

    it("states the machine, the versions, the date and the ratio", () => {
        const markdown = renderBenchmarks(results);
        expect(markdown).toContain("Run on 2026-11-27");
        expect(markdown).toContain("AMD EPYC, 2 cores, 24 GiB");
        expect(markdown).toContain("node v20.20.2, pulumi v3.248.0");
        expect(markdown).toContain(
            "**Ratio, baseline / mlops with hot standby: 41.0× to traffic on version 2; the command returned in a median of 5.2 s, 3.4× faster than the 17.6 s measured before the instant switch (issue 21, hot standby).**",
        );
        expect(markdown).toContain("| mlops rollback, hot standby | 1.00 s | 1.10, 0.90, 1.00 | 5.2 s | 1, 1, 1 |");
        expect(markdown).toContain("| mlops rollback, partial standby | 21.00 s | 20.00, 22.00, 21.00 | 31.0 s | 6, 6, 7 |");
        expect(markdown).toContain("The writes of the first hot round: patch services fraud/fraud-detector (node-fetch/1.0, 200).");
        expect(markdown).toContain("Do not edit by hand");
    });

    it("prints each example's time-to-restore budget as mlops plan does, the measured sandbox figure, and a row per source", () => {
        const markdown = renderBenchmarks(results);
        expect(markdown).toContain("## 4. Time to restore (estimates, with sources)");
        expect(markdown).toContain("### sagemaker-example\n\nThe example as it is.\n\n```text\nTime to restore if version 3 goes bad");
        expect(markdown).toContain("  After the bake: the alarm trigger moves the endpoint to version 2: 9 min 31 s to 19 min 2 s, plus 4 steps not estimated");
        expect(markdown).toContain(
            "on the loopback sandbox in section 2: a median of 21.0 s to serve only the target with partial standby,\n20 s of it the target's model load.",
        );
        for (const id of Object.keys(FIGURE_SOURCES)) expect(markdown).toMatch(new RegExp(`^\\| \`${id}\` \\| `, "m"));
        expect(markdown).toContain("<https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html>");
        expect(markdown).toContain("`trigger/handleAlarmEvent.ts`");
    });
});
