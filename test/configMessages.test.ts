/**
 * What `mlops validate` prints about a stack file, through the built bin
 * (`npm run build` first): no config problem shows a webhook's token, and
 * YAML the engine's reader (Go yaml.v3) reads otherwise is refused, exit 2.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");
const MLOPS = path.join(ROOT, "bin", "mlops.js");
const EXAMPLE = readFileSync(path.join(ROOT, "stacks", "Pulumi.sagemaker-example.yaml"), "utf8");

interface Run {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Run the real `mlops` bin, as a user would (copied from test/cli.test.ts). */
function mlops(...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
        execFile(process.execPath, [MLOPS, ...args], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
            resolve({ code, stdout, stderr });
        });
    });
}

/** The sagemaker example stack file with `lines` added at the end of its `config:` map. */
function exampleWith(lines: string, edit: (text: string) => string = (text) => text): string {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "mlops-messages-")), "Pulumi.dev.yaml");
    writeFileSync(file, edit(EXAMPLE) + lines);
    return file;
}

describe("mlops validate never prints a webhook URL's token", () => {
    it.each([
        // What `pulumi config set mlops:rollback <url>` writes: the URL where a map belongs.
        ['  mlops:rollback: "https://hooks.slack.com/services/T000/B000/SECRETTOKEN"\n', "a string of 54 characters (a URL, not shown)"],
        ['  mlops:rollback: "https://h.io/SECRETTOKEN"\n', 'string "https://h.io/…"'],
        ['  mlops:rollback:\n    allowRedeploy: "https://u:SECRETTOKEN@h.io/x"\n', 'expected array, got string "https://h.io/…"'],
    ])("%j", async (lines, shown) => {
        const file = exampleWith(lines);
        const text = await mlops("validate", "--config-file", file);
        const json = await mlops("validate", "--config-file", file, "--json");
        expect(text.code).toBe(2);
        expect(json.code).toBe(2);
        expect(text.stdout + text.stderr).toContain(shown);
        expect((JSON.parse(json.stdout) as { problems: unknown[] }).problems).toContainEqual({
            path: expect.stringMatching(/^mlops:rollback/),
            message: expect.stringContaining(shown),
        });
        for (const run of [text, json]) expect(run.stdout + run.stderr).not.toContain("SECRETTOKEN");
    });
});

describe("mlops validate refuses what Go's yaml.v3 reads otherwise, exit 2, naming the line", () => {
    const lines = EXAMPLE.split("\n").length;
    it.each([
        ['  <<: {"mlops:warm": 0}\n', `line ${lines} has a YAML merge key '<<'`],
        ['  mlops:extra:\n    <<: {"replicas": 010}\n', `line ${lines + 1} has a YAML merge key '<<'`],
    ])("%j", async (added, message) => {
        const file = exampleWith(added);
        for (const run of [await mlops("validate", "--config-file", file), await mlops("validate", "--config-file", file, "--json")]) {
            expect(run.code).toBe(2);
            expect(run.stdout + run.stderr).toContain(message);
        }
    });

    it("a U+2028 in a comment, which yaml.v3 ends the comment at", async () => {
        const file = exampleWith("", (text) => text.replace("  mlops:warm: 1\n", "  mlops:warm: 1 # note\u2028  mlops:warm: 0\n"));
        const line = EXAMPLE.split("\n").findIndex((text) => text === "  mlops:warm: 1") + 1;
        const run = await mlops("validate", "--config-file", file);
        expect(run.code).toBe(2);
        expect(run.stderr).toContain(`line ${line} holds the character U+2028`);
    });

    it("a timestamp with a comma fraction, a date to yaml.v3", async () => {
        const file = exampleWith("", (text) => text.replace("  mlops:quarantined: []\n", "  mlops:quarantined:\n    - 2026-01-01T00:00:00,5Z\n"));
        const run = await mlops("validate", "--config-file", file, "--json");
        expect(run.code).toBe(2);
        expect((JSON.parse(run.stdout) as { problems: unknown[] }).problems).toContainEqual({
            path: "mlops:quarantined[0]",
            message: expect.stringContaining("is a date to Pulumi's YAML reader"),
        });
    });
});
