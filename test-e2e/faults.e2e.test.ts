/**
 * Faults on the real engine: two rollbacks at once, a dry run killed
 * mid-preview, the engine killed mid-update, the API server restarted mid-rollback, a rollback target whose
 * pods never get ready, and bad input against a deployed stack. Every check
 * is made with kubectl, the backend's files and the engine's own preview,
 * never with mlops's view of things. `npm run test:faults` prints the summary.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import * as path from "node:path";
import { parseDocument, type YAMLSeq } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawConfigFromStackFile } from "../config/sources";
import {
    backendHistory as backendHistoryOf,
    MLOPS_BIN,
    runMlops,
    EXAMPLE_PROJECT_NAME,
    scratchProject,
    stackFileOf,
    servingDeployments,
    STACK,
    withSandboxStack,
    type MlopsRun,
} from "../sandbox/demo";
import {
    isAlive,
    kubectl,
    NEVER_READY_CAUSE,
    NEVER_READY_VERSION,
    restartApiServer,
    sandboxDown,
    rolloutTimeoutSecondsOf,
    sandboxUp,
    type SandboxState,
} from "../sandbox/sandbox";
import { recordFault } from "./faultSummary";

let state: SandboxState;
let project: string;
let webhook: Server;
/** What mlops POSTed to the team's webhook (an HTTPS server on 127.0.0.1 with the sandbox's certificate). */
const notices: Record<string, unknown>[] = [];

const stackFile = () => stackFileOf(project);
/** mlops trusts the sandbox CA, which signed the webhook's certificate. */
const mlopsEnv = () => ({ NODE_EXTRA_CA_CERTS: path.join(state.dir, "pki", "ca.crt") });
/**
 * mlops, run without blocking this process: the team's webhook is served from
 * it and must answer while mlops runs.
 */
const mlops = (...args: string[]) => startMlops(args).done;

/**
 * How long version 2's new pods take to get ready: with a partial standby
 * (1 of 2), a rollback to 2 scales it up before the switch (the safe
 * default), and that wait is where the faults below strike, inside the
 * update, every time.
 */
const TARGET_LOAD_SECONDS = 15;
const VERSION_2_IMAGE = `registry.example.com/ml/fraud-detector@sha256:${"2".repeat(64)}`;

beforeAll(async () => {
    state = await sandboxUp({ slowImages: [{ image: VERSION_2_IMAGE, readySeconds: TARGET_LOAD_SECONDS }] });
    project = scratchProject(state, "faults");
    webhook = createServer(
        { key: readFileSync(path.join(state.dir, "pki", "apiserver.key")), cert: readFileSync(path.join(state.dir, "pki", "apiserver.crt")) },
        (request, response) => {
            let body = "";
            request.on("data", (chunk: Buffer) => (body += chunk.toString()));
            request.on("end", () => {
                notices.push(JSON.parse(body) as Record<string, unknown>);
                response.end("ok");
            });
        },
    );
    await new Promise<void>((resolve) => webhook.listen(0, "127.0.0.1", resolve));
    const port = (webhook.address() as { port: number }).port;

    // The sandbox stack, with a version whose pods never get ready first in
    // the catalog (a rollback target that is broken; quarantined, so that it
    // is never the warm standby), versions 4 to 6 to deploy between faults,
    // a partial standby (no instant switch: the update scales the target
    // up, which takes TARGET_LOAD_SECONDS for version 2), and the team's webhook.
    const document = parseDocument(readFileSync(stackFile(), "utf8"));
    const versions = document.getIn(["config", "mlops:versions"]) as YAMLSeq;
    const version = (id: string, digit: string) =>
        document.createNode({
            version: id,
            image: `registry.example.com/ml/fraud-detector@sha256:${digit.repeat(64)}`,
            artifact: `s3://acme-ml-models/fraud-detector/${id}/model.tar.gz`,
        });
    versions.items.unshift(version(NEVER_READY_VERSION, "0"));
    document.setIn(["config", "mlops:quarantined"], document.createNode([NEVER_READY_VERSION], { flow: true }));
    versions.add(version("4", "4"));
    versions.add(version("5", "5"));
    versions.add(version("6", "6"));
    document.setIn(["config", "mlops:rollback"], document.createNode({ notify: `https://127.0.0.1:${port}/hooks/mlops` }));
    document.setIn(["config", "mlops:kubernetes", "standbyReplicas"], 1);
    writeFileSync(stackFile(), document.toString());
});

afterAll(async () => {
    await new Promise((resolve) => webhook?.close(resolve));
    await sandboxDown();
});

/** An mlops run in the background, whose output can be watched while it runs. */
interface RunningMlops {
    readonly pid: number;
    readonly done: Promise<MlopsRun>;
    output(): string;
}

function startMlops(args: string[]): RunningMlops {
    const started = Date.now();
    const child = spawn(process.execPath, [MLOPS_BIN, ...args], { cwd: project, env: { ...process.env, ...state.env, ...mlopsEnv() } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    // Bounded: no mlops run here may outlive 10 minutes.
    const timer = setTimeout(() => child.kill("SIGKILL"), 10 * 60_000);
    const done = new Promise<MlopsRun>((resolve) =>
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code: code ?? -1, stdout, stderr, seconds: (Date.now() - started) / 1000 });
        }),
    );
    if (child.pid === undefined) throw new Error("could not start mlops");
    return { pid: child.pid, done, output: () => stderr + stdout };
}

async function waitForOutput(run: RunningMlops, pattern: RegExp, timeoutSeconds: number): Promise<void> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    while (!pattern.test(run.output())) {
        if (Date.now() > deadline) throw new Error(`mlops did not print ${pattern} within ${timeoutSeconds}s:\n${run.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
}

/** Child processes of `pid`, as ps sees them: [pid, command name]. */
function childrenOf(pid: number): [number, string][] {
    try {
        return execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(pid)], { encoding: "utf8" })
            .trim()
            .split("\n")
            .filter((line) => line.trim() !== "")
            .map((line) => {
                const [child, name] = line.trim().split(/\s+/);
                return [Number(child), name];
            });
    } catch {
        return []; // ps exits 1 when there are none
    }
}

/** The base name of a process's executable as it was started, or undefined once it is gone. */
function executableOf(pid: number): string | undefined {
    try {
        return path.basename(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]);
    } catch {
        return undefined;
    }
}

const selector = () => kubectl(state, ["get", "service", "fraud-detector", "-n", "fraud", "-o", "jsonpath={.spec.selector.mlops-rollback/version}"]);

/**
 * Every object of the stack's namespace, and the namespace itself, as
 * `kind/name` → resourceVersion: the API server bumps an object's
 * resourceVersion on every write, so equal maps mean nothing was written.
 */
function clusterObjects(): Record<string, string> {
    const namespaced = "deployments,replicasets,pods,services,endpointslices,configmaps,secrets,serviceaccounts,poddisruptionbudgets";
    const list = (args: string[]) =>
        (JSON.parse(kubectl(state, [...args, "-o", "json"])) as { items?: { kind: string; metadata: { name: string; resourceVersion: string } }[] }).items ??
        [];
    // A field selector, not namespaces/fraud: kubectl prints one named object bare, not as a List.
    const items = [...list(["get", namespaced, "-n", "fraud"]), ...list(["get", "namespaces", "--field-selector", "metadata.name=fraud"])];
    const objects = Object.fromEntries(items.map((item) => [`${item.kind}/${item.metadata.name}`, item.metadata.resourceVersion]));
    if (objects["Namespace/fraud"] === undefined || objects["Service/fraud-detector"] === undefined) {
        throw new Error(`the cluster listing misses the namespace or the Service: ${Object.keys(objects).join(", ")}`);
    }
    return objects;
}

/** What a rollback may need, as the cluster and the backend's files have it. */
interface Kept {
    /** Deployment name -> uid. */
    readonly deployments: Record<string, string>;
    readonly checkpoint: boolean;
    readonly historyFiles: number;
    readonly backupFiles: number;
}

function kept(): Kept {
    const items = JSON.parse(kubectl(state, ["get", "deployments", "-n", "fraud", "-o", "json"])) as { items: { metadata: { name: string; uid: string } }[] };
    const countFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((file) => file.endsWith(".json")).length : 0);
    const backend = path.join(state.dir, "state", ".pulumi");
    return {
        deployments: Object.fromEntries(items.items.map((item) => [item.metadata.name, item.metadata.uid])),
        checkpoint: existsSync(path.join(backend, "stacks", EXAMPLE_PROJECT_NAME, `${STACK}.json`)),
        historyFiles: countFiles(path.join(backend, "history", EXAMPLE_PROJECT_NAME, STACK)),
        backupFiles: countFiles(path.join(backend, "backups", EXAMPLE_PROJECT_NAME, STACK)),
    };
}

/**
 * What was there before and is gone or replaced after: every Deployment of a
 * version the stack still declares after (its `mlops` output: the pinned,
 * the warm and the retained versions, the last being the ones rollbacks
 * left, which they must keep); a forward deploy retires, by design, a
 * standby it no longer keeps warm and the versions rollbacks left. And the
 * state checkpoint, and the backend's history and backups.
 */
function lostBetween(before: Kept, after: Kept): { lost: string[]; checked: number } {
    const output = JSON.parse(
        execFileSync(path.join(state.bin, "pulumi"), ["stack", "output", "mlops", "--json", "--show-secrets", "--stack", STACK], {
            cwd: project,
            env: { ...process.env, ...state.env },
            encoding: "utf8",
        }),
    ) as { pinnedVersion?: string; warmVersions?: string[]; retainedVersions?: string[] };
    const declared = new Set([output.pinnedVersion, ...(output.warmVersions ?? []), ...(output.retainedVersions ?? [])].map((id) => `fraud-detector-${id}`));
    const needed = Object.keys(before.deployments).filter((name) => declared.has(name));
    const lost = needed.filter((name) => after.deployments[name] !== before.deployments[name]).map((name) => `Deployment ${name}`);
    if (before.checkpoint && !after.checkpoint) lost.push("the state checkpoint");
    if (after.historyFiles < before.historyFiles) lost.push(`${before.historyFiles - after.historyFiles} history files`);
    if (after.backupFiles < before.backupFiles) lost.push(`${before.backupFiles - after.backupFiles} state backups`);
    return { lost, checked: needed.length + 3 };
}

const backendHistory = () => backendHistoryOf(state, project);

/** The engine's own answer to "does the stack match its config and the cluster?": a refreshing preview. */
async function pendingChanges(): Promise<Record<string, number>> {
    const { changeSummary } = await withSandboxStack(state, project, (stack) => stack.preview({ refresh: true }));
    return Object.fromEntries(Object.entries(changeSummary).filter(([kind, count]) => kind !== "same" && count > 0));
}

/** What the backend's checkpoint has pending, and the locks in its lock directory. */
function backendLeftovers(): { pending: number; locks: string[] } {
    const backend = path.join(state.dir, "state", ".pulumi");
    const checkpoint = JSON.parse(readFileSync(path.join(backend, "stacks", EXAMPLE_PROJECT_NAME, `${STACK}.json`), "utf8")) as {
        checkpoint: { latest?: { pending_operations?: unknown[] } };
    };
    const lockDir = path.join(backend, "locks", "organization", EXAMPLE_PROJECT_NAME, STACK);
    return {
        pending: checkpoint.checkpoint.latest?.pending_operations?.length ?? 0,
        locks: existsSync(lockDir) ? readdirSync(lockDir).filter((file) => file.endsWith(".json")) : [],
    };
}

/** Every file of the sandbox's file backend (the stack's state, its history and backups), path → bytes. */
function backendFiles(): Map<string, Buffer> {
    const root = path.join(state.dir, "state");
    const files = new Map<string, Buffer>();
    const walk = (dir: string) => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
            const full = path.join(dir, entry.name);
            if (entry.isDirectory()) walk(full);
            else files.set(path.relative(root, full), readFileSync(full));
        }
    };
    walk(root);
    return files;
}

/** Backend files that differ from before (changed, added or gone), by path. */
const changedSince = (before: Map<string, Buffer>) => {
    const after = backendFiles();
    const paths = new Set([...before.keys(), ...after.keys()]);
    return [...paths].filter((file) => !(before.get(file)?.equals(after.get(file) ?? Buffer.alloc(0)) ?? false));
};

describe("concurrent rollbacks", () => {
    it("deploys 1, 2 and 3 to start from", async () => {
        for (const version of ["1", "2", "3"]) {
            const run = await mlops("deploy", "--stack", STACK, "--version", version, "--yes");
            expect(run.code, run.stderr).toBe(0);
        }
        expect(servingDeployments(state)).toEqual(["fraud-detector-3"]);
        // The team heard of each, on its webhook.
        expect(notices.map((notice) => [notice.kind, notice.to, notice.result])).toEqual([
            ["deploy", "1", "succeeded"],
            ["deploy", "2", "succeeded"],
            ["deploy", "3", "succeeded"],
        ]);
    });

    it("two mlops rollback at once: exactly one runs, the other exits 1 naming it; state, file and cluster agree after", async ({ task }) => {
        const before = kept();
        const historyBefore = backendHistory().length;
        const runs = [
            startMlops(["rollback", "--stack", STACK, "--reason", "first", "--yes"]),
            startMlops(["rollback", "--stack", STACK, "--reason", "second", "--yes"]),
        ];
        const results = await Promise.all(runs.map((run) => run.done));

        const winner = results.findIndex((run) => run.code === 0);
        expect(winner, results.map((run) => run.stderr).join("\n----\n")).toBeGreaterThanOrEqual(0);
        const loser = results[1 - winner];
        expect(loser.code).toBe(1);
        expect(loser.stderr).toContain(`another mlops run holds this stack: mlops rollback (pid ${runs[winner].pid} `);

        // One update in the backend, and everything agrees on 2.
        const history = backendHistory();
        expect(history.length).toBe(historyBefore + 1);
        expect(history[0]).toMatchObject({ message: `rollback 3 -> 2: ${winner === 0 ? "first" : "second"}`, result: "succeeded" });
        expect(servingDeployments(state)).toEqual(["fraud-detector-2"]);
        expect(selector()).toBe("2");
        expect(rawConfigFromStackFile(stackFile())).toMatchObject({ pinned: "2", quarantined: [NEVER_READY_VERSION, "3"] });
        expect(existsSync(`${stackFile()}.lock`)).toBe(false);
        expect(await pendingChanges()).toEqual({});

        const { lost, checked } = lostBetween(before, kept());
        recordFault(task, { scenario: "two rollbacks at once", injected: 1, kind: "concurrent rollback", lost, checked });
        expect(lost).toEqual([]);
    });
});

describe("bad input never touches the stack", () => {
    /** [args, the fragment stderr must contain]: each a bad flag, argument or request against the deployed stack (pinned 2, 3 quarantined, after the two rollbacks at once). */
    const BAD_INVOCATIONS: [string[], string][] = [
        [["rollback", "--stack", STACK, "--version", "99", "--yes"], "--version 99: not in mlops:versions"],
        [["rollback", "--stack", STACK, "--version", "3", "--yes"], "--version 3: comes after the pinned 2"],
        [["rollback", "--stack", STACK, "--version", "2", "--yes"], "--version 2: already the pinned version"],
        [["rollback", "--stack", STACK, "--version", "1", "--expect-from", "3", "--yes"], "--expect-from 3: the stack file pins 2"],
        [["rollback", "--stack", STACK, "--version", "1", "--restore-database", "--yes"], "--restore-database: the stack has no mlops:database section"],
        [["rollback", "--stack", STACK, "--version", "1"], "no terminal to confirm on; pass --yes"],
        [["rollback", "--stack", STACK, "--bogus"], "unknown option '--bogus'"],
        [["rollback", "--stack", "nosuch", "--yes"], "Pulumi.nosuch.yaml"],
        [["deploy", "--stack", STACK, "--yes"], "required option '--version <version>' not specified"],
        [["deploy", "--stack", STACK, "--version", "1", "--yes"], "--version 1: comes before the pinned 2"],
        [["deploy", "--stack", STACK, "--version", "3", "--yes"], "--version 3: quarantined"],
        [["deploy", "--stack", STACK, "--version", "2", "--yes"], "--version 2: already the pinned version"],
        [["plan", "--stack", STACK], "give exactly one of --to <version>"],
        [["plan", "--stack", STACK, "--to", "99"], "--to 99: not in mlops:versions"],
        [["plan", "--stack", STACK, "--against", "no-such-file.yaml"], "no-such-file.yaml"],
        [["validate", "--stack", STACK, "--config-file", "x.yaml"], "cannot be used with option"],
        [["no-such-command"], "unknown command 'no-such-command'"],
    ];

    it(`refuses ${BAD_INVOCATIONS.length} bad invocations with exit 2 and a message naming the fault; the state, the stack file and the cluster stay as they were`, ({
        task,
    }) => {
        const stateBefore = backendFiles();
        const stackFileBefore = readFileSync(stackFile());
        const clusterBefore = clusterObjects();
        expect(stateBefore.size).toBeGreaterThan(0);
        expect(Object.keys(clusterBefore).filter((key) => key.startsWith("Deployment/")).length).toBeGreaterThan(0);

        for (const [args, fragment] of BAD_INVOCATIONS) {
            const run = runMlops(state, project, args);
            expect(run.code, `mlops ${args.join(" ")}: ${run.stderr}`).toBe(2);
            expect(run.stderr, `mlops ${args.join(" ")}`).toContain(fragment);
            expect(run.stderr, `mlops ${args.join(" ")}`).not.toMatch(/\n\s+at /);
        }

        const changed = changedSince(stateBefore);
        recordFault(task, {
            scenario: "bad CLI invocations",
            injected: BAD_INVOCATIONS.length,
            kind: "bad invocation",
            lost: changed,
            checked: stateBefore.size,
        });
        expect(changed).toEqual([]);
        expect(backendFiles()).toEqual(stateBefore);
        expect(readFileSync(stackFile()).equals(stackFileBefore)).toBe(true);
        // The cluster: not one object written, let alone the ones that serve.
        expect(clusterObjects()).toEqual(clusterBefore);
    });

    it("refuses every invalid stack config of test/configs/invalid as the stack's file (exit 2, the key named), touching nothing", ({ task }) => {
        const invalidDir = path.join(__dirname, "..", "test", "configs", "invalid");
        const files = readdirSync(invalidDir).filter((file) => file.endsWith(".yaml"));
        expect(files.length).toBeGreaterThanOrEqual(40);
        const stateBefore = backendFiles();
        const clusterBefore = clusterObjects();
        const original = readFileSync(stackFile());
        try {
            for (const file of files) {
                const text = readFileSync(path.join(invalidDir, file), "utf8");
                const key = /^# expect: (\S+) \|/m.exec(text)?.[1];
                expect(key, file).toBeDefined();
                writeFileSync(stackFile(), text);
                const run = runMlops(state, project, ["rollback", "--stack", STACK, "--yes"]);
                expect(run.code, `${file}: ${run.stderr}`).toBe(2);
                expect(run.stderr, file).toContain(key as string);
                expect(readFileSync(stackFile(), "utf8"), file).toBe(text);
            }
        } finally {
            writeFileSync(stackFile(), original);
        }
        const changed = changedSince(stateBefore);
        recordFault(task, { scenario: "invalid stack configs", injected: files.length, kind: "invalid config", lost: changed, checked: stateBefore.size });
        expect(changed).toEqual([]);
        expect(backendFiles()).toEqual(stateBefore);
        expect(clusterObjects()).toEqual(clusterBefore);
    }, 300_000);
});

/** SIGKILL the engine (the `pulumi` process) of a running mlops; returns its pid and the pids of its Kubernetes provider plugins. */
function killEngine(run: RunningMlops): { enginePid: number; plugins: number[] } {
    const engine = childrenOf(run.pid).find(([, name]) => name === "pulumi");
    if (engine === undefined) throw new Error(`no pulumi process under mlops (pid ${run.pid}):\n${run.output()}`);
    const [enginePid] = engine;
    // By the executable's name in /proc/<pid>/cmdline: ps truncates comm to 15 characters.
    const plugins = childrenOf(enginePid)
        .map(([pid]) => pid)
        .filter((pid) => executableOf(pid) === "pulumi-resource-kubernetes");
    process.kill(enginePid, "SIGKILL");
    return { enginePid, plugins };
}

/** After the rerun: the rollback from `from` to 2 is recorded as finished, nothing is left pending or locked, 2's pods serve from the same Deployment, and the engine sees nothing to change. */
async function expectRollbackFinished(from: string, targetUid: string): Promise<void> {
    expect(backendLeftovers()).toEqual({ pending: 0, locks: [] });
    expect(backendHistory()[0]).toMatchObject({ message: `rollback ${from} -> 2: finishing a rollback that did not complete`, result: "succeeded" });
    expect(servingDeployments(state)).toEqual(["fraud-detector-2"]);
    expect(kept().deployments["fraud-detector-2"]).toBe(targetUid);
    expect(await pendingChanges()).toEqual({});
}

/** A process's command line (argv), or undefined once it is gone. */
function commandLineOf(pid: number): string[] | undefined {
    try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
    } catch {
        return undefined;
    }
}

/** Every process below `pid`, children first. */
function descendantsOf(pid: number): number[] {
    return childrenOf(pid).flatMap(([child]) => [child, ...descendantsOf(child)]);
}

/** Objects whose resourceVersion changed, appeared or went between two clusterObjects() listings. */
const objectsChangedSince = (before: Record<string, string>): string[] => {
    const after = clusterObjects();
    return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((key) => before[key] !== after[key]);
};

describe("an interrupted dry run", () => {
    it("a dry run killed mid-preview (SIGHUP, then SIGKILL): the stack file, the state and the cluster stay as they were, and the next run sees no unfinished rollback", async ({
        task,
    }) => {
        // GIVEN the stack as the rollbacks above left it (pinned 2), and what a dry run must not touch
        const fileBefore = readFileSync(stackFile());
        const pinnedBefore = rawConfigFromStackFile(stackFile()).pinned;
        const backendBefore = backendFiles();
        const clusterBefore = clusterObjects();

        for (const signal of ["SIGHUP", "SIGKILL"] as const) {
            // WHEN a dry run is killed while the engine previews (its language host or provider started)
            const run = startMlops(["rollback", "--stack", STACK, "--reason", `dry run killed by ${signal}`, "--dry-run"]);
            const deadline = Date.now() + 120_000;
            let engine: { pid: number; args: string[] } | undefined;
            while (engine === undefined || childrenOf(engine.pid).length === 0) {
                if (Date.now() > deadline) throw new Error(`no pulumi preview under mlops (pid ${run.pid}) within 120 s:\n${run.output()}`);
                await new Promise((resolve) => setTimeout(resolve, 50));
                engine = childrenOf(run.pid)
                    .filter(([, name]) => name === "pulumi")
                    .map(([pid]) => ({ pid, args: commandLineOf(pid) ?? [] }))
                    .find((candidate) => candidate.args[1] === "preview");
            }
            const configFile = engine.args[engine.args.indexOf("--config-file") + 1];
            expect(engine.args, "the preview reads an edited copy").toContain("--config-file");
            expect(rawConfigFromStackFile(configFile).pinned).not.toBe(pinnedBefore);
            expect(readFileSync(stackFile()).equals(fileBefore), "the stack file while the preview runs").toBe(true);
            const engineProcesses = [engine.pid, ...descendantsOf(engine.pid)];
            process.kill(run.pid, signal);
            const killed = await run.done;

            // THEN mlops ended as the signal says, the engine ends too (SIGHUP: stopped through the
            // Automation API; SIGKILL: orphaned, it ends when its output pipe is gone), and nothing is left but, after a SIGKILL, the private copy
            expect(killed.code, killed.stderr).toBe(signal === "SIGHUP" ? 129 : -1);
            for (let waited = 0; isAlive(engine.pid) && waited < 120_000; waited += 200) await new Promise((resolve) => setTimeout(resolve, 200));
            for (const pid of engineProcesses.filter(isAlive)) process.kill(pid, "SIGKILL");
            expect(existsSync(path.dirname(configFile))).toBe(signal === "SIGKILL");
            rmSync(path.dirname(configFile), { recursive: true, force: true });
            expect(readFileSync(stackFile()).equals(fileBefore), `the stack file after ${signal}`).toBe(true);
        }

        // The next dry run takes over the killed one's lock, saying there is nothing to pick up, and previews a plain rollback from 2.
        const next = await mlops("rollback", "--stack", STACK, "--dry-run");
        expect(next.code, next.stderr).toBe(0);
        expect(next.stderr).toContain("a dry run, stopped before it finished; it changed nothing, so there is nothing to pick up");
        expect(next.stderr).toMatch(new RegExp(`Rollback of fraud-detector on stack ${STACK}: ${String(pinnedBefore)} -> `));
        expect(next.stderr).not.toMatch(/already pins|did not finish|did not complete/);
        expect(next.stdout).toMatch(/^Preview of rollback \S+ -> \S+ on sandbox: .+\. Nothing was changed\.\n$/);
        expect(existsSync(`${stackFile()}.lock`)).toBe(false);
        expect(await pendingChanges()).toEqual({});

        const lost = [
            ...(readFileSync(stackFile()).equals(fileBefore) ? [] : ["the stack file's bytes"]),
            ...changedSince(backendBefore).map((file) => `state file ${file}`),
            ...objectsChangedSince(clusterBefore).map((object) => `cluster object ${object}`),
        ];
        recordFault(task, {
            scenario: "dry run killed mid-preview (SIGHUP, then SIGKILL)",
            injected: 2,
            kind: "SIGHUP, SIGKILL",
            lost,
            checked: 1 + backendBefore.size + Object.keys(clusterBefore).length,
        });
        expect(lost).toEqual([]);
    });
});

describe("interrupted and broken rollbacks", () => {
    it("the engine killed (SIGKILL) mid-rollback: the next mlops rollback reports it, removes the dead lock, repairs and finishes", async ({ task }) => {
        expect((await mlops("deploy", "--stack", STACK, "--version", "4", "--yes")).code).toBe(0);
        const before = kept();
        const targetUid = before.deployments["fraud-detector-2"];

        const run = startMlops(["rollback", "--stack", STACK, "--reason", "killed", "--yes"]);
        // The target's scale-up is the rollback's step that waits (its new pod loads the model): kill the engine there.
        await waitForOutput(run, /updating kubernetes:apps\/v1:Deployment fraud-detector-deployment-2/, 120);
        const { enginePid, plugins } = killEngine(run);
        const killed = await run.done;
        expect(killed.code).toBe(1);
        expect(killed.stderr).toContain("the rollback to 2 failed");
        expect(killed.stderr).toContain("finish it with mlops rollback --stack sandbox");
        // The engine's provider plugins outlive it (the engine cannot stop them
        // once killed); the rerun must work with them still there. Stopped at the end.
        const orphans = plugins.filter(isAlive);
        expect(orphans.length, "the killed engine's Kubernetes provider plugin is still running when the rerun starts").toBeGreaterThan(0);

        // What the kill left: the engine's lock and an unfinished operation.
        expect(backendLeftovers().locks).toHaveLength(1);
        expect(backendLeftovers().pending).toBeGreaterThan(0);

        const rerun = await mlops("rollback", "--stack", STACK, "--yes");
        expect(rerun.code, rerun.stderr).toBe(0);
        expect(rerun.stderr).toContain("The stack file already pins 2, but the stack still runs 4");
        expect(rerun.stderr).toMatch(
            /The last update of stack sandbox was cut short: \d+ operations? never finished \(updating kubernetes:apps\/v1:Deployment fraud-detector-deployment-2/,
        );
        expect(rerun.stderr).toContain(`is no longer running (pid ${enginePid} on`);
        for (const pid of orphans.filter(isAlive)) process.kill(pid, "SIGTERM");

        await expectRollbackFinished("4", targetUid);
        const { lost, checked } = lostBetween(before, kept());
        recordFault(task, {
            scenario: `engine SIGKILL mid-rollback, at the target's scale-up (${orphans.length} orphaned plugin)`,
            injected: 1,
            kind: "SIGKILL",
            lost,
            checked,
        });
        expect(lost).toEqual([]);
    });

    it("the API server restarted mid-rollback: the rollback fails cleanly or completes, and a rerun converges", async ({ task }) => {
        expect((await mlops("deploy", "--stack", STACK, "--version", "5", "--yes")).code).toBe(0);
        const before = kept();

        const run = startMlops(["rollback", "--stack", STACK, "--reason", "api server restart", "--yes"]);
        await waitForOutput(run, /updating kubernetes:apps\/v1:Deployment fraud-detector-deployment-2/, 120);
        // The restart must land inside the update, not after it.
        expect(isAlive(run.pid) && !/Rolled back/.test(run.output())).toBe(true);
        state = await restartApiServer(state, 5);
        const first = await run.done;
        // Either outcome is allowed; a crash or a hang is not.
        expect([0, 1], first.stderr).toContain(first.code);
        if (first.code === 1) {
            expect(first.stderr).toContain("finish it with mlops rollback --stack sandbox");
            const rerun = await mlops("rollback", "--stack", STACK, "--yes");
            expect(rerun.code, rerun.stderr).toBe(0);
        }
        expect(servingDeployments(state)).toEqual(["fraud-detector-2"]);
        expect(selector()).toBe("2");
        expect(backendLeftovers()).toEqual({ pending: 0, locks: [] });
        expect(backendHistory()[0]).toMatchObject({ result: "succeeded" });
        expect(await pendingChanges()).toEqual({});

        const { lost, checked } = lostBetween(before, kept());
        recordFault(task, {
            scenario: `API server restart mid-rollback (first run exit ${first.code})`,
            injected: 1,
            kind: "kube-apiserver restart",
            lost,
            checked,
        });
        expect(lost).toEqual([]);
    });

    it("a rollback keeps the version it leaves, at zero; the engine killed while the next deploy retires it: the next mlops deploy finishes it once it can go", async ({
        task,
    }) => {
        expect((await mlops("deploy", "--stack", STACK, "--version", "6", "--yes")).code).toBe(0);
        const rollback = await mlops("rollback", "--stack", STACK, "--reason", "6 is bad", "--yes");
        expect(rollback.code, rollback.stderr).toBe(0);
        // The rollback deleted nothing: 6 is kept, scaled to zero, for the investigation.
        expect(kubectl(state, ["get", "deployment", "fraud-detector-6", "-n", "fraud", "-o", "jsonpath={.spec.replicas}"])).toBe("0");
        expect(servingDeployments(state)).toEqual(["fraud-detector-2"]);

        // A forward deploy retires it; a finalizer holds it in deletion, so that the engine is surely inside the delete when killed.
        kubectl(state, ["patch", "deployment", "fraud-detector-6", "-n", "fraud", "--type", "merge", "-p", '{"metadata":{"finalizers":["mlops-test/hold"]}}']);
        const before = kept();
        const run = startMlops(["deploy", "--stack", STACK, "--version", "4", "--force", "--reason", "4 is fixed", "--yes"]);
        await waitForOutput(run, /deleting kubernetes:apps\/v1:Deployment fraud-detector-deployment-6/, 120);
        const { enginePid, plugins } = killEngine(run);
        expect((await run.done).code).toBe(1);
        const orphans = plugins.filter(isAlive);
        expect(orphans.length, "the killed engine's Kubernetes provider plugin is still running when the rerun starts").toBeGreaterThan(0);
        // Traffic moved before the delete; the stack has not recorded the deploy yet (its outputs come last).
        expect(servingDeployments(state)).toEqual(["fraud-detector-4"]);
        kubectl(state, ["patch", "deployment", "fraud-detector-6", "-n", "fraud", "--type", "json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]']);

        const rerun = await mlops("deploy", "--stack", STACK, "--version", "4", "--yes");
        expect(rerun.code, rerun.stderr).toBe(0);
        expect(rerun.stderr).toContain("The stack file already pins 4, but the stack still runs 2");
        // The version retired (and the former standby, which the new pin does not keep warm) were being deleted.
        expect(rerun.stderr).toMatch(/never finished \([^)]*deleting kubernetes:apps\/v1:Deployment fraud-detector-deployment-6[;)]/);
        expect(rerun.stderr).toMatch(/Removed the stack's lock \S+\.json: it belonged to an engine that is no longer running/);
        expect(rerun.stderr).toContain(`is no longer running (pid ${enginePid} on`);
        for (const pid of orphans.filter(isAlive)) process.kill(pid, "SIGTERM");

        expect(backendLeftovers()).toEqual({ pending: 0, locks: [] });
        expect(backendHistory()[0]).toMatchObject({ message: "deploy 2 -> 4", result: "succeeded" });
        expect(servingDeployments(state)).toEqual(["fraud-detector-4"]);
        expect(await pendingChanges()).toEqual({});
        expect(Object.keys(kept().deployments)).not.toContain("fraud-detector-6");
        const { lost, checked } = lostBetween(before, kept());
        recordFault(task, {
            scenario: `engine SIGKILL mid-deploy, at the retired version's delete (${orphans.length} orphaned plugin)`,
            injected: 1,
            kind: "SIGKILL",
            lost,
            checked,
        });
        expect(lost).toEqual([]);

        // Back to 2 for the next scenario (4 rolled back again).
        expect((await mlops("rollback", "--stack", STACK, "--version", "2", "--reason", "back to 2", "--yes")).code).toBe(0);
        expect(servingDeployments(state)).toEqual(["fraud-detector-2"]);
    });

    it("a rollback target whose pods never get ready: the rollback fails, traffic stays, the team is told", async ({ task }) => {
        const before = kept();
        notices.length = 0;
        // Someone forces it (it is quarantined) and accepts a cold start: its pods never get ready.
        const run = await mlops(
            "rollback",
            "--stack",
            STACK,
            "--version",
            NEVER_READY_VERSION,
            "--force",
            "--allow-cold",
            "--reason",
            "broken target",
            "--yes",
        );
        expect(run.code).toBe(1);
        expect(run.stderr).toContain(`the rollback to ${NEVER_READY_VERSION} failed`);
        // Failed for the right reason: pulumi-kubernetes gave up waiting for the
        // Deployment's pods to be ready (its await logic, provider/pkg/await),
        // not a provider or program error, and only once the rollout timeout
        // (rolloutTimeoutSeconds) had passed; the rest is the engine starting
        // and stopping (rolloutTimeoutSeconds is 60 in the sandbox stack).
        expect(run.stderr).toMatch(NEVER_READY_CAUSE);
        expect(run.seconds).toBeGreaterThanOrEqual(rolloutTimeoutSecondsOf(stackFile()));
        expect(run.seconds).toBeLessThan(150);
        expect(servingDeployments(state)).toEqual(["fraud-detector-2"]);
        expect(selector()).toBe("2");
        expect(notices).toHaveLength(1);
        expect(notices[0]).toMatchObject({ kind: "rollback", from: "2", to: NEVER_READY_VERSION, result: "failed" });
        expect(String(notices[0].text)).toContain("failed");

        // The way back the message gives: pin 2 again; nothing else moves.
        expect(run.stderr).toContain("pin again what served before with mlops deploy --stack sandbox --version 2 --force");
        const back = await mlops("deploy", "--stack", STACK, "--version", "2", "--force", "--reason", "back from the broken target", "--yes");
        expect(back.code, back.stderr).toBe(0);
        expect(servingDeployments(state)).toEqual(["fraud-detector-2"]);
        expect(await pendingChanges()).toEqual({});

        const { lost, checked } = lostBetween(before, kept());
        recordFault(task, { scenario: "rollback target never ready", injected: 1, kind: "pods never ready", lost, checked });
        expect(lost).toEqual([]);
    });
});
