import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import {
    configReference,
    CONFIGURATION_EXAMPLE,
    pulumiConfigType,
    REFERENCE_FILES,
    REGENERATE_COMMAND,
    renderConfigurationMarkdown,
    renderPulumiProjectConfig,
    typeInWords,
    withProjectConfig,
} from "../config/reference";
import { DEFAULTS, parseStackConfig, stackConfigShape } from "../config/schema";
import { digestFor, ECR_REPOSITORY } from "./helpers";

const ROOT = path.join(__dirname, "..");
const onDisk = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
const OUT_OF_DATE = `out of date with config/schema.ts: run \`${REGENERATE_COMMAND}\` and commit the result`;

/** The rows of the generated tables: key → its "required / default" cell. */
function requiredOrDefaultCells(markdown: string): Map<string, string> {
    const rows = [...markdown.matchAll(/^\| `(mlops:[^`]+)` \| [^\n]*? \| (required|optional|default `[^\n]*?`) \| /gm)];
    return new Map(rows.map((row) => [row[1], row[2]]));
}

/** `mlops:alarms.custom[].statistic` read from a parsed config (the first item of a list). */
function valueAt(config: unknown, key: string): unknown {
    const segments = key
        .slice("mlops:".length)
        .split(".")
        .flatMap((segment) => (segment.endsWith("[]") ? [segment.slice(0, -2), 0] : [segment]));
    return segments.reduce<unknown>((value, segment) => (value as Record<string | number, unknown> | undefined)?.[segment], config);
}

/** A config with every section, each with only its required keys: what is left out takes its default. */
function everySectionRaw(): Record<string, unknown> {
    return {
        target: "kubernetes",
        model: "fraud-detector",
        pinned: "1",
        versions: [{ version: "1", image: `${ECR_REPOSITORY}@sha256:${digestFor(1)}` }],
        sagemaker: { instanceType: "ml.m5.large" },
        kubernetes: {},
        alarms: { custom: [{ name: "pods", namespace: "ContainerInsights", metricName: "pod_number_of_running_pods", threshold: 1 }] },
        trigger: {
            runnerRoleArn: "arn:aws:iam::123456789012:role/mlops-runner",
            source: { type: "CODECOMMIT", location: "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/ml" },
            pulumiCli: { version: "3.248.0", sha256: "a".repeat(64) },
        },
        database: { kind: "instance", identifier: "fraud-features", manage: { engine: "postgres", instanceClass: "db.t4g.medium", allocatedStorageGiB: 20 } },
    };
}

describe("the generated config reference", () => {
    it("docs/configuration.md and the config: block of Pulumi.yaml are what the schema generates now", () => {
        expect(onDisk(REFERENCE_FILES.configuration), `${REFERENCE_FILES.configuration} is ${OUT_OF_DATE}`).toBe(renderConfigurationMarkdown());
        const project = onDisk(REFERENCE_FILES.project);
        expect(project, `the config: block of ${REFERENCE_FILES.project} is ${OUT_OF_DATE}`).toBe(withProjectConfig(project, renderPulumiProjectConfig()));
    });

    it("shows a key's default, from the schema, and its description", () => {
        const markdown = renderConfigurationMarkdown();
        const row = markdown.split("\n").find((line) => line.startsWith("| `mlops:kubernetes.replicas` |"));
        expect(row).toBe(`| \`mlops:kubernetes.replicas\` | integer, 1 or more | default \`${DEFAULTS.kubernetes.replicas}\` | Pods of the serving version. |`);
        expect(markdown).toContain("| `mlops:trigger.pulumiCli.sha256` | string | required | The SHA-256 of `pulumi-v<version>-linux-x64.tar.gz`");
        expect(markdown).toContain("| `mlops:sagemaker.standby` | one of `hot`, `cold` | default `cold` |");
        expect(renderPulumiProjectConfig()).toContain(`replicas: ${DEFAULTS.kubernetes.replicas},`);
    });

    it.each([
        ["docs/configuration.md", () => onDisk(REFERENCE_FILES.configuration)],
        ["the renderer's output", () => renderConfigurationMarkdown()],
    ])("every default in %s is what parseStackConfig fills in, and every optional key stays unset", (_, markdown) => {
        const cells = requiredOrDefaultCells(markdown());
        // A section with keys of its own has a heading and a table; a plain top-level key has a row.
        const documented = configReference().flatMap(({ section, keys }) => (keys.length === 0 ? [section] : keys));
        expect([...cells.keys()]).toEqual(documented.map((key) => key.key));
        const raw = everySectionRaw();
        const parsed = parseStackConfig(raw);
        const checked = [...cells].filter(([key, cell]) => cell !== "required" && valueAt(raw, key) === undefined);
        const defaultOf = (cell: string): unknown => parseYaml(cell.slice("default `".length, -1));
        for (const [key, cell] of checked) {
            // An optional key inside a map with a default (kubernetes.resources.requests) takes its part of that default.
            const ancestor = [...cells].find(([other, otherCell]) => key.startsWith(`${other}.`) && otherCell.startsWith("default"));
            const fromAncestor = ancestor === undefined ? undefined : valueAt({ x: defaultOf(ancestor[1]) }, `mlops:x${key.slice(ancestor[0].length)}`);
            const expected = cell === "optional" ? fromAncestor : defaultOf(cell);
            expect(valueAt(parsed, key), `${key} (${cell})`).toEqual(expected);
        }
        expect(checked.length).toBeGreaterThan(60);
    });

    it("fails when a schema default changes without regenerating (kubernetes replicas 2 → 3)", () => {
        const kubernetes = stackConfigShape.shape.kubernetes.unwrap();
        const changed = stackConfigShape.extend({
            kubernetes: kubernetes
                .extend({
                    replicas: kubernetes.shape.replicas
                        .unwrap()
                        .default(DEFAULTS.kubernetes.replicas + 1)
                        .describe("Pods of the serving version."),
                })
                .describe(kubernetes.description ?? "")
                .optional(),
        });
        const markdown = renderConfigurationMarkdown(changed);
        expect(markdown).not.toBe(onDisk(REFERENCE_FILES.configuration));
        expect(requiredOrDefaultCells(markdown).get("mlops:kubernetes.replicas")).toBe(`default \`${DEFAULTS.kubernetes.replicas + 1}\``);
        expect(renderPulumiProjectConfig(changed)).toContain(`replicas: ${DEFAULTS.kubernetes.replicas + 1},`);
        expect(withProjectConfig(onDisk(REFERENCE_FILES.project), renderPulumiProjectConfig(changed))).not.toBe(onDisk(REFERENCE_FILES.project));
    });

    it("refuses a key without a description, naming it", () => {
        const undescribed = z.object({ sagemaker: z.object({ instanceType: z.string() }).describe("The endpoint.") });
        expect(() => configReference(undescribed)).toThrow(
            "mlops:sagemaker.instanceType has no description: add .describe(...) to its schema in config/schema.ts",
        );
    });

    it("the stack-file example on the page is a valid config", () => {
        const { config } = parseYaml(CONFIGURATION_EXAMPLE) as { config: Record<string, unknown> };
        const raw = Object.fromEntries(Object.entries(config).map(([key, value]) => [key.replace(/^mlops:/, ""), value]));
        expect(parseStackConfig(raw).sagemaker?.deployment.waitIntervalSeconds).toBe(600);
        expect(renderConfigurationMarkdown()).toContain(`\`\`\`yaml\n${CONFIGURATION_EXAMPLE}\`\`\``);
    });
});

describe("the config: block of Pulumi.yaml", () => {
    const block = parseYaml(renderPulumiProjectConfig()) as { config: Record<string, { type: string; default?: unknown; description: string }> };

    it("declares the keys Pulumi can type, with the schema's defaults only", () => {
        expect(Object.keys(block.config)).toEqual(["target", "model", "pinned", "warm"]);
        expect(block.config.warm).toMatchObject({ type: "integer", default: DEFAULTS.warm });
        // The engine hands a declared default to the program: none where the schema has none (a required key).
        for (const key of ["target", "model", "pinned"]) expect(block.config[key]).not.toHaveProperty("default");
        expect(block.config.target.description).toBe(stackConfigShape.shape.target.description);
    });

    it("lists every key it cannot declare in its comment, with fields and defaults", () => {
        const comment = renderPulumiProjectConfig()
            .split("\n")
            .filter((line) => line.startsWith("#"))
            .join("\n");
        for (const section of ["quarantined", "versions[]", "sagemaker", "kubernetes", "rollback", "alarms", "trigger", "database"]) {
            expect(comment).toContain(`#   mlops:${section} `);
        }
        expect(comment).toContain("deployment {strategy: allAtOnce, stepPercent,");
        expect(comment).toContain("custom[] {name (required),");
        expect(comment).toContain("eks {clusterName (required)}");
    });

    it("keeps everything above config: as it is, and regenerating is stable", () => {
        const project = "# mine\nname: mlops\nruntime: nodejs\nconfig:\n  stale-key: {type: string}\n# stale comment\n";
        const once = withProjectConfig(project, renderPulumiProjectConfig());
        expect(once.startsWith("# mine\nname: mlops\nruntime: nodejs\nconfig:\n  # Generated from")).toBe(true);
        expect(once).not.toContain("stale");
        expect(withProjectConfig(once, renderPulumiProjectConfig())).toBe(once);
        expect(withProjectConfig("name: mlops\nruntime: nodejs", "config: {}\n")).toBe("name: mlops\nruntime: nodejs\nconfig: {}\n");
    });

    it("declares a version id a string, but not a list of them: the engine checks each item's YAML type, and refuses [3] as array<string>", () => {
        expect(pulumiConfigType({ type: ["string", "integer"] })).toEqual({ type: "string" });
        expect(pulumiConfigType({ type: "array", items: { type: ["string", "integer"] } })).toBeUndefined();
        expect(pulumiConfigType({ type: "array", items: { type: "string" } })).toEqual({ type: "array", items: { type: "string" } });
        expect(pulumiConfigType({ type: "object", properties: {} })).toBeUndefined();
        expect(pulumiConfigType({ type: "number" })).toBeUndefined();
    });
});

describe("typeInWords", () => {
    it("says the enum values, ranges, lengths and list sizes", () => {
        expect(typeInWords({ type: "integer", minimum: 1, maximum: 65535 })).toBe("integer, 1..65535");
        expect(typeInWords({ type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER })).toBe("integer, 0 or more");
        expect(typeInWords({ type: "string", enum: ["hot", "cold"] })).toBe("one of `hot`, `cold`");
        expect(typeInWords({ type: "string", maxLength: 40 })).toBe("string, at most 40 characters");
        expect(typeInWords({ type: "array", items: { type: "string" }, minItems: 1, maxItems: 16 })).toBe("list of string (1-16)");
        expect(typeInWords({ type: "array", items: { type: "object", properties: {} } })).toBe("list of maps");
        expect(typeInWords({ type: "object", additionalProperties: { type: "string" } })).toBe("map of string to string");
    });
});
