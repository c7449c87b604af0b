/**
 * What the real engine hands a program from a stack file, against what the
 * CLI assumes of it. Needs only the pulumi binary from the sandbox's tools
 * and the stand-in Node.js language host.
 *
 * - Numbers: Go's yaml.v3 reads the spellings the CLI refuses as
 *   `engineNumber` says (config/sources.ts), top-level values as text and
 *   nested ones as JSON.
 * - `mlops:rollback.notify` kept as a Pulumi secret: what `pulumi config set
 *   --secret --path` writes is accepted offline by `mlops validate`; the
 *   engine hands the program the decrypted value, which the program's config
 *   parse accepts; and the CLI's way to the decrypted value
 *   (`StackSession.configValue`, `pulumi config get --path`) returns it, or
 *   fails without it under a wrong passphrase.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineNumber } from "../config/sources";
import { openAutomationStack } from "../rollback/automation";
import { ensureTools, PROJECT_DIR, SANDBOX_PLUGINS_DIR } from "../sandbox/sandbox";

const WEBHOOK = "https://hooks.example.com/services/T0AAAA/B0BBBB/s3cr3tT0k3n";

/**
 * Parses the config the engine hands it, as serveModelFromStackConfig does,
 * with the package's public entry point as built (npm run build), and says
 * what it found (never the value).
 */
const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, rawConfigFromPulumiConfig } from ${JSON.stringify(PROJECT_DIR)};

const config = parseStackConfig(rawConfigFromPulumiConfig(pulumi.runtime.allConfig()));
export const notifyIsText = typeof config.rollback.notify === "string";
export const notifyMatches = config.rollback.notify === ${JSON.stringify(WEBHOOK)};
// Not in the SDK's typings, but what Config.getSecret asks: the engine named the key among the secrets.
export const rollbackIsSecret = (pulumi.runtime as unknown as { isConfigSecret(key: string): boolean }).isConfigSecret("mlops:rollback");
`;

let pulumiBin: string;
let dir: string;
let project: string;
let env: Record<string, string>;

function pulumi(args: string[], extraEnv: Record<string, string> = {}, cwd = project): { code: number; output: string } {
    const run = spawnSync(pulumiBin, [...args, "--non-interactive"], { cwd, env: { ...env, ...extraEnv }, encoding: "utf8", timeout: 120_000 });
    return { code: run.status ?? -1, output: `${run.stdout}${run.stderr}` };
}

beforeAll(() => {
    const bin = ensureTools();
    pulumiBin = path.join(bin, "pulumi");
    dir = mkdtempSync(path.join(os.tmpdir(), "secret-notify-e2e-"));
    project = path.join(dir, "project");
    env = {
        ...(process.env as Record<string, string>),
        PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "secret-notify-e2e",
        PULUMI_HOME: path.join(dir, "home"),
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
        PATH: `${bin}:${SANDBOX_PLUGINS_DIR}:${process.env.PATH ?? ""}`,
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
    for (const sub of ["state", "home", "project"]) mkdirSync(path.join(dir, sub));
    writeFileSync(path.join(project, "Pulumi.yaml"), "name: secret-notify\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "secret-notify", private: true, main: "index.ts" }));
    writeFileSync(path.join(project, "index.ts"), PROGRAM);
    symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(project, "node_modules"));
    for (const args of [["stack", "init", "dev"]]) {
        const run = pulumi(args);
        if (run.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${run.code}:\n${run.output}`);
    }
    // The example's mlops:* config, then the secret as a user sets it.
    const stackFile = path.join(project, "Pulumi.dev.yaml");
    const example = readFileSync(path.join(PROJECT_DIR, "stacks", "Pulumi.sagemaker-example.yaml"), "utf8");
    writeFileSync(stackFile, `${readFileSync(stackFile, "utf8")}${example.slice(example.indexOf("config:"))}`);
    const set = pulumi(["config", "set", "--secret", "--path", "mlops:rollback.notify", WEBHOOK]);
    if (set.code !== 0) throw new Error(`pulumi config set exited ${set.code}:\n${set.output}`);
});

afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a secret webhook under the real engine", () => {
    it("the stack file holds ciphertext, which mlops validate accepts offline and calls a secret", () => {
        const text = readFileSync(path.join(project, "Pulumi.dev.yaml"), "utf8");
        expect(text).toMatch(/ {2}mlops:rollback:\n {4}notify:\n {6}secure: v1:/);
        expect(text).not.toContain("s3cr3t");
        const validate = spawnSync(process.execPath, [path.join(PROJECT_DIR, "bin", "mlops.js"), "validate", "--stack", "dev"], {
            cwd: project,
            env,
            encoding: "utf8",
        });
        expect(validate.status, validate.stderr).toBe(0);
        expect(validate.stdout).toContain("Notices go to the secret in mlops:rollback.notify (value not shown).");
    });

    it("the program gets the decrypted URL, a secret key, and parses it", () => {
        const up = pulumi(["up", "--yes", "--skip-preview"]);
        expect(up.code, up.output).toBe(0);
        const outputs = JSON.parse(
            execFileSync(pulumiBin, ["stack", "output", "--json", "--non-interactive"], { cwd: project, env, encoding: "utf8" }),
        ) as unknown;
        expect(outputs).toEqual({ notifyIsText: true, notifyMatches: true, rollbackIsSecret: true });
    });

    it("the CLI reads the decrypted value through the engine, and a wrong passphrase fails without it", async () => {
        const saved = process.env;
        process.env = { ...env };
        try {
            const stack = await openAutomationStack("dev", project);
            expect(await stack.configValue?.("mlops:rollback.notify")).toBe(WEBHOOK);
            expect(await stack.configValue?.("mlops:rollback.nothing")).toBeUndefined();
            process.env = { ...env, PULUMI_CONFIG_PASSPHRASE: "wrong" };
            const wrong = await openAutomationStack("dev", project);
            const error = (await wrong.configValue?.("mlops:rollback.notify").catch((e: unknown) => e)) as Error;
            expect(error.message).toContain("pulumi config get --path mlops:rollback.notify failed: incorrect passphrase");
            expect(error.message).not.toContain("s3cr3t");
        } finally {
            process.env = saved;
        }
    });
});

/** Spellings the CLI refuses unquoted (and canonical ones it accepts), with what the engine must make of them. */
const SPELLINGS = ["3", "-2", "0.5", "3.0", "03", "010", "0x3", "0X3", "0o3", "0b11", "+3", "1e3", ".5", "1_000", "-0", "2.10", "1.", "1:30", "2.1.0"];

describe("numbers as the engine reads them", () => {
    it("reads each spelling as engineNumber says, top level (as text) and nested (as JSON)", () => {
        const numbers = path.join(dir, "numbers");
        mkdirSync(numbers);
        writeFileSync(path.join(numbers, "Pulumi.yaml"), "name: numbers\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
        writeFileSync(path.join(numbers, "package.json"), JSON.stringify({ name: "numbers", private: true, main: "index.ts" }));
        writeFileSync(
            path.join(numbers, "index.ts"),
            'import * as pulumi from "@pulumi/pulumi";\nexport const all = JSON.stringify(pulumi.runtime.allConfig());\n',
        );
        symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(numbers, "node_modules"));
        expect(pulumi(["stack", "init", "dev"], {}, numbers).code).toBe(0);
        const stackFile = path.join(numbers, "Pulumi.dev.yaml");
        const topLevel = SPELLINGS.map((spelled, index) => `  mlops:top${index}: ${spelled}\n`).join("");
        const nested = SPELLINGS.map((spelled, index) => `    n${index}: ${spelled}\n`).join("");
        writeFileSync(stackFile, `${readFileSync(stackFile, "utf8").replace(/^config: \{\}\n?/m, "")}config:\n${topLevel}  mlops:nested:\n${nested}`);
        const up = pulumi(["up", "--yes", "--skip-preview"], {}, numbers);
        expect(up.code, up.output).toBe(0);
        // `pulumi stack output all` prints the string output as it is: the JSON of allConfig().
        const all = JSON.parse(execFileSync(pulumiBin, ["stack", "output", "all", "--non-interactive"], { cwd: numbers, env, encoding: "utf8" })) as Record<
            string,
            string
        >;
        const nestedValues = JSON.parse(all["mlops:nested"]) as Record<string, unknown>;
        SPELLINGS.forEach((spelled, index) => {
            const expected = engineNumber(spelled);
            const top = all[`mlops:top${index}`];
            const inside = nestedValues[`n${index}`];
            if (expected === undefined) {
                expect(top, spelled).toBe(spelled);
                expect(inside, spelled).toBe(spelled);
            } else {
                // -0 is 0 in both JSON and the engine's text.
                expect(Number(top), spelled).toBe(expected === 0 ? 0 : expected);
                expect(inside, spelled).toBe(expected === 0 ? 0 : expected);
            }
        });
    });
});
