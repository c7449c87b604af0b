/**
 * The sandbox's stand-in Node.js language host (sandbox/plugins/pulumi-language-nodejs)
 * under the real engine: `pulumi up` of a project directory with a TypeScript
 * program, as a user runs it. Needs only the pulumi binary from the sandbox's
 * tools, not the Kubernetes sandbox.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTools, PROJECT_DIR, SANDBOX_PLUGINS_DIR } from "../sandbox/sandbox";

const PROGRAM = `import * as pulumi from "@pulumi/pulumi";

const greeting = new pulumi.Config().require("greeting");
const pinned = new pulumi.Config("mlops").require("pinned");
if (process.env.LH_E2E_THROW) throw new Error(process.env.LH_E2E_THROW);

class Pin extends pulumi.ComponentResource {
    public readonly version: pulumi.Output<string>;
    constructor(name: string, version: string, opts?: pulumi.ComponentResourceOptions) {
        super("lhtest:index:Pin", name, {}, opts);
        this.version = pulumi.output(version);
        this.registerOutputs({ version: this.version });
    }
}

class Greeter extends pulumi.ComponentResource {
    public readonly message: pulumi.Output<string>;
    constructor(name: string, opts?: pulumi.ComponentResourceOptions) {
        super("lhtest:index:Greeter", name, {}, opts);
        const pin = new Pin(\`\${name}-pin\`, pinned, { parent: this });
        this.message = pin.version.apply((version) => \`\${greeting}, pinned \${version}\`);
        this.registerOutputs({ message: this.message });
    }
}

export const message = new Greeter("greeter").message;
export const stack = pulumi.getStack();
export const fromEnv = process.env.LH_E2E_ENV ?? "unset";
`;

/** Marks every process our pulumi commands start, so that leftovers can be found among other people's. */
const TAG_NAME = "LH_E2E_TAG";
const TAG_VALUE = `${process.pid}-${Date.now()}`;

let pulumiBin: string;
let dir: string;
let project: string;
let env: Record<string, string>;

interface Run {
    readonly code: number;
    readonly output: string;
    readonly seconds: number;
}

function pulumi(args: string[], extraEnv: Record<string, string> = {}): Run {
    const started = Date.now();
    const run = spawnSync(pulumiBin, [...args, "--non-interactive"], { cwd: project, env: { ...env, ...extraEnv }, encoding: "utf8", timeout: 120_000 });
    return { code: run.status ?? -1, output: `${run.stdout}${run.stderr}`, seconds: (Date.now() - started) / 1000 };
}

/** Language hosts still running from our commands: processes named pulumi-language-nodejs that carry our tag. */
function leftoverLanguageHosts(): number[] {
    return readdirSync("/proc")
        .filter((entry) => /^\d+$/.test(entry))
        .filter((pid) => {
            try {
                const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
                const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
                return cmdline.includes("pulumi-language-nodejs") && environ.includes(`${TAG_NAME}=${TAG_VALUE}`);
            } catch {
                return false; // gone, or not ours to read
            }
        })
        .map(Number);
}

beforeAll(() => {
    const bin = ensureTools();
    pulumiBin = path.join(bin, "pulumi");
    dir = mkdtempSync(path.join(os.tmpdir(), "lh-e2e-"));
    project = path.join(dir, "project");
    env = {
        ...(process.env as Record<string, string>),
        PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "lh-e2e",
        PULUMI_HOME: path.join(dir, "home"),
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
        PATH: `${bin}:${SANDBOX_PLUGINS_DIR}:${process.env.PATH ?? ""}`,
        // The repo's node_modules declares @pulumi/aws, whose plugin the sandbox does not have:
        // without this the engine spends seconds failing to download it before every run.
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        [TAG_NAME]: TAG_VALUE,
    };
    for (const sub of ["state", "home", "project"]) mkdirSync(path.join(dir, sub));
    writeFileSync(path.join(project, "Pulumi.yaml"), "name: lh-test\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "lh-test", private: true, main: "index.ts" }));
    writeFileSync(path.join(project, "index.ts"), PROGRAM);
    // The repo's node_modules: @pulumi/pulumi and typescript, the one copy the program and cmd/run share.
    symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(project, "node_modules"));
    for (const args of [
        ["stack", "init", "dev"],
        ["config", "set", "greeting", "hello"],
        ["config", "set", "mlops:pinned", "7"],
    ]) {
        const run = pulumi(args);
        if (run.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${run.code}:\n${run.output}`);
    }
});

afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("pulumi up of a project directory through the stand-in language host", () => {
    it("runs the TypeScript program with the stack's config and records its outputs", () => {
        const up = pulumi(["up", "--yes", "--skip-preview"]);
        expect(up.output).not.toContain("error:");
        expect(up.code).toBe(0);
        const outputs = JSON.parse(pulumi(["stack", "output", "--json"]).output) as Record<string, unknown>;
        expect(outputs).toEqual({ message: "hello, pinned 7", stack: "dev", fromEnv: "unset" });
        expect(leftoverLanguageHosts()).toEqual([]);
    });

    it("fails the update with the program's own message when the program throws, and does not hang", () => {
        const up = pulumi(["up", "--yes", "--skip-preview"], { LH_E2E_THROW: "the model catalog is empty" });
        expect(up.code).not.toBe(0);
        expect(up.output).toContain("the model catalog is empty");
        expect(up.seconds).toBeLessThan(60);
        expect(leftoverLanguageHosts()).toEqual([]);
    });

    it("passes a changed config to the next update", () => {
        expect(pulumi(["config", "set", "mlops:pinned", "8"]).code).toBe(0);
        expect(pulumi(["up", "--yes", "--skip-preview"]).code).toBe(0);
        expect(JSON.parse(pulumi(["stack", "output", "--json"]).output)).toMatchObject({ message: "hello, pinned 8" });
        expect(leftoverLanguageHosts()).toEqual([]);
    });

    it("runs a local-program stack of the Automation API, with the workspace's envVars in the program's environment", async () => {
        const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
        // The Automation API finds pulumi and the backend in process.env.
        const saved = process.env;
        process.env = { ...env };
        try {
            const stack = await LocalWorkspace.selectStack({ stackName: "dev", workDir: project }, { envVars: { LH_E2E_ENV: "from envVars" } });
            const up = await stack.up();
            expect(up.summary.result).toBe("succeeded");
            expect(up.outputs.fromEnv.value).toBe("from envVars");
        } finally {
            process.env = saved;
        }
        expect(leftoverLanguageHosts()).toEqual([]);
    });
});
