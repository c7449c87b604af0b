/**
 * What users install: the public entry point's list of names, and the
 * package.json fields that make `import ... from "mlops-rollback"` resolve
 * to compiled JavaScript with types, with @pulumi/* as peers.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import * as api from "../api";

const ROOT = path.resolve(__dirname, "..");
const manifest = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
    main: string;
    types: string;
    exports: Record<string, unknown>;
    bin: Record<string, string>;
    files: string[];
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
    peerDependencies: Record<string, string>;
};

describe("the public entry point", () => {
    it("lists exactly these values (a removal breaks users' programs; an addition is a decision)", () => {
        expect(Object.keys(api).sort()).toEqual([
            "AlarmRollbackTrigger",
            "CONFIG_NAMESPACE",
            "DEFAULTS",
            "DatabaseSnapshots",
            "EndpointAlarms",
            "EndpointVariantWeights",
            "KubernetesModelEndpoint",
            "MLOPS_STACK_OUTPUT",
            "SageMakerModelEndpoint",
            "StackConfigError",
            "VERSION_SELECTOR_LABEL",
            "defaultRollbackTarget",
            "desiredVariantWeights",
            "endpointVariantsFor",
            "isWarm",
            "parseStackConfig",
            "rawConfigFromPulumiConfig",
            "serveModelFromStackConfig",
            "warmVersions",
        ]);
    });
});

describe("package.json", () => {
    it("resolves the package to the compiled entry point and its declarations", () => {
        expect(manifest.main).toBe("dist/api.js");
        expect(manifest.types).toBe("dist/api.d.ts");
        expect(manifest.exports["."]).toEqual({ types: "./dist/api.d.ts", default: "./dist/api.js" });
        expect(manifest.bin).toEqual({ mlops: "bin/mlops.js" });
        expect(manifest.files).toContain("dist");
    });

    it("ships every file the README links to, so its links work in node_modules/mlops-rollback as in the repository", () => {
        const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
        const targets = [...readme.matchAll(/\]\((?!https?:|#)([^)#]+)/g)].map((match) => match[1]);
        expect(targets.length).toBeGreaterThan(3);
        for (const target of targets) {
            expect(manifest.files, target).toContain(target.split("/")[0]);
        }
    });

    it("takes @pulumi/pulumi, @pulumi/aws and @pulumi/kubernetes as peers with ranges, so a user's tree keeps one copy of each", () => {
        for (const name of ["@pulumi/pulumi", "@pulumi/aws", "@pulumi/kubernetes"]) {
            expect(manifest.peerDependencies[name]).toMatch(/^\^\d+\.\d+\.\d+$/);
            expect(manifest.dependencies).not.toHaveProperty(name);
            // This repository develops against the lowest version the range allows.
            expect(manifest.peerDependencies[name]).toBe(`^${manifest.devDependencies[name].replace(/^\^/, "")}`);
        }
    });
});
