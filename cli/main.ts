/**
 * `mlops`: validate a stack config and rehearse a rollback, offline.
 *
 * Exit codes: 0 ok, 1 the operation failed, 2 bad input. Errors are one
 * sentence and the fix; `--debug` adds the stack trace. With `--json`, stdout
 * holds one JSON document whatever happens: `{ "ok": true, ... }`, or
 * `{ "ok": false, "error": JsonError, ... }` (docs/cli.md).
 */
import { Command, CommanderError, Option } from "commander";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { warmVersions } from "../catalog/catalog";
import { BadInputError } from "../config/badInput";
import { PulumiCliUnavailableError } from "../rollback/engineErrors";
import { deploymentPolicyWarnings } from "../config/deploymentPolicy";
import { floorAlarmWarnings, StackConfigError, type ConfigProblem, type StackConfig } from "../config/schema";
import { checkStackFile, InvalidConfigError, loadStackConfig, providerSettingsOf, stackFilePath } from "../config/sources";
import { describeNotifyTarget } from "../rollback/notifyTarget";
import { isPrintable, printable, printableJson, printableLines } from "./terminalText";
import type { EndpointVariantsRecord } from "../catalog/endpointVariants";
import type { OpenStack } from "../rollback/automation";
import type { PinChangeDeps, PinChangeOptions, PinChangeResult } from "./pinChange";
import type { TrafficSwitch } from "../rollback/kubernetesSwitch";
import type { RdsPorts } from "../database/restore";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

/** Bad flags or arguments: exit 2. */
export class UsageError extends BadInputError {
    constructor(
        message: string,
        /** The flag the message is about, e.g. `--reason`, for `--json`'s `error.key`. @default the flag or key the message starts with */
        readonly key?: string,
    ) {
        super(message);
    }
}

/**
 * What went wrong, in every `--json` document of a failure (`{ "ok": false, "error": ... }`).
 * `kind`: `usage` (the command line: an unknown command or flag, a missing or
 * malformed value; exit 2), `bad-input` (the config, a flag's value against
 * the config, a refusal; exit 2, nothing changed) or `failed` (the operation
 * ran and failed, or could not run: the engine, the cloud, a missing pulumi;
 * exit 1).
 */
export interface JsonError {
    readonly kind: "usage" | "bad-input" | "failed";
    /** The same text as on stderr, without the `mlops: ` prefix. */
    readonly message: string;
    /** The flag (`--version`) or config key (`mlops:sagemaker.instanceType`) at fault, when there is one. */
    readonly key?: string;
    /** An invalid config: every problem, each named by its config key. */
    readonly problems?: readonly { readonly key: string; readonly message: string }[];
}

/** The flag or config key a message starts with: mlops's messages name what is wrong first (`--to 9: not in mlops:versions`). */
const LEADING_KEY = /^(--[a-z][a-z-]*|mlops:[^\s:]+)(?=[\s:=,]|$)/;

/** `error` as `--json` reports it (see JsonError). */
export function jsonErrorOf(error: unknown): JsonError {
    const message = error instanceof Error ? error.message : String(error);
    const kind = error instanceof UsageError ? "usage" : error instanceof BadInputError ? "bad-input" : "failed";
    const key = (error instanceof UsageError ? error.key : undefined) ?? (kind === "failed" ? undefined : LEADING_KEY.exec(message)?.[1]);
    // InvalidConfigError, or the schema's own StackConfigError: each lists every problem.
    const problems = error instanceof InvalidConfigError || error instanceof StackConfigError ? keyed(error.problems) : undefined;
    return { kind, message, ...(key === undefined ? {} : { key }), ...(problems === undefined ? {} : { problems }) };
}

/** Config problems and warnings as `--json` names them: `{ key, message }`, the key as `pulumi config` spells it. */
function keyed(problems: readonly ConfigProblem[]): { key: string; message: string }[] {
    return problems.map((problem) => ({ key: problem.path, message: problem.message }));
}

/**
 * The version of the mlops-rollback package this file belongs to, from its
 * own package.json: the nearest one up from here named mlops-rollback (from
 * `dist/cli/` in a clone, `node_modules/mlops-rollback/dist/cli/` when
 * installed, `cli/` when run from source).
 */
export function packageVersion(from: string = __dirname): string {
    for (let dir = from; ; dir = path.dirname(dir)) {
        try {
            const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
            if (manifest.name === "mlops-rollback" && typeof manifest.version === "string") return manifest.version;
        } catch {
            // No package.json here (or not JSON): look further up.
        }
        if (path.dirname(dir) === dir) return "unknown (no package.json of mlops-rollback above the CLI's files)";
    }
}

/**
 * The longest `--reason`, in characters. The reason goes into the update
 * message, which the engine gets on its command line (`pulumi up --message`)
 * and the program in its environment (MLOPS_ROLLBACK_EVENT), and Linux
 * refuses one argument or environment string over 128 KiB (MAX_ARG_STRLEN)
 * with E2BIG, by then after the stack file was rewritten. 1,000 characters
 * (at most 4,000 bytes of UTF-8) holds a paragraph and a ticket link, far
 * below that limit, and keeps `mlops history` and the notice readable.
 */
export const MAX_REASON_LENGTH = 1000;

/**
 * `--reason`: one line of at most MAX_REASON_LENGTH characters with no control
 * character (it is printed by `status` and `history`, where a newline would
 * forge a line and an escape sequence drive the terminal); else UsageError
 * (exit 2), thrown before anything is read or written. The reason itself is
 * not quoted back.
 */
export function checkReason(reason: string | undefined): void {
    if (reason === undefined) return;
    const characters = [...reason];
    if (characters.length > MAX_REASON_LENGTH) {
        throw new UsageError(
            `--reason is ${characters.length} characters long; at most ${MAX_REASON_LENGTH} (it goes into the update message, on the engine's command line): shorten it, and link a ticket for the details`,
            "--reason",
        );
    }
    const at = characters.findIndex((character) => !isPrintable(character));
    if (at !== -1) {
        throw new UsageError(
            `--reason must be one line of plain text: character ${at + 1} is ${unprintableKind(characters[at])} (${printable(characters[at])}); write the reason on one line without control characters`,
            "--reason",
        );
    }
}

/** What a character `isPrintable` rejects is, for messages: "a control character", or a bidi or invisible format character. */
function unprintableKind(character: string): string {
    const code = character.codePointAt(0) ?? 0;
    return code <= 0x9f
        ? "a control character"
        : "an invisible formatting character (a bidi mark, override or isolate, a zero-width character or a line separator)";
}

/**
 * Every command-line argument (after node and the script) prints as itself:
 * else UsageError (exit 2) naming the argument, escaped, before commander
 * parses anything. Commander quotes arguments raw in its errors ("unknown
 * option", "unknown command"), and mlops's own messages quote flag values
 * (--version, --stack), where a newline forges a line of output and an
 * escape sequence drives the terminal. A --reason goes to `checkReason`,
 * whose messages say where in the reason the character is.
 */
export function checkArguments(argv: readonly string[]): void {
    const args = argv.slice(2);
    // `mlops --version 3 rollback ...` would print mlops's version and exit 0 with no rollback:
    // a script would read that as success. Before a command, --version takes nothing after it.
    if ((args[0] === "--version" || args[0] === "-V") && args.length > 1) {
        throw new UsageError(
            `${args[0]} before a command prints mlops's own version and takes nothing after it; to pin a model version, put --version after the command: mlops rollback --version <v>, mlops deploy --version <v>`,
            "--version",
        );
    }
    args.forEach((arg, index) => {
        const previous = index > 0 ? args[index - 1] : undefined;
        if (previous === "--reason") return checkReason(arg);
        if (arg.startsWith("--reason=")) return checkReason(arg.slice("--reason=".length));
        const character = [...arg].find((candidate) => !isPrintable(candidate));
        if (character === undefined) return;
        const isValue = !(arg.startsWith("-") || previous === undefined || !previous.startsWith("-") || previous.includes("="));
        const what = isValue ? `the value of ${printable(previous)}, ${printable(arg)},` : `the argument ${printable(arg)}`;
        throw new UsageError(
            `${what} contains ${unprintableKind(character)} (${printable(character)}); type it again without it (a value pasted from elsewhere can carry one)`,
            // The flag, printable as it is: only then is it the key (a flag with a control character is named escaped in the message only).
            isValue && isPrintable(previous) ? previous : undefined,
        );
    });
}

interface ConfigSourceOptions {
    readonly stack?: string;
    readonly configFile?: string;
}

/** The stack file a command reads: `--config-file F`, or `--stack S` → `Pulumi.S.yaml` in the project's stackConfigDir. */
export function resolveConfigFile(options: ConfigSourceOptions, projectDir: string, cwd = projectDir): string {
    if (options.stack !== undefined && options.configFile !== undefined) {
        throw new UsageError("pass either --stack or --config-file, not both", "--stack");
    }
    if (options.configFile !== undefined) return options.configFile;
    // Relative to where mlops runs, so messages show the path the user knows.
    if (options.stack !== undefined) return path.relative(cwd, stackFilePath(projectDir, options.stack)) || ".";
    throw new UsageError(
        "no config to read: pass --stack <name> (reads Pulumi.<name>.yaml in the project's stackConfigDir) or --config-file <path>",
        "--stack",
    );
}

export interface Io {
    readonly stdout: (text: string) => void;
    readonly stderr: (text: string) => void;
    readonly cwd: string;
}

const defaultIo: Io = {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    cwd: process.cwd(),
};

/** What the commands that reach the engine or the cloud use; tests stand in for these. */
export interface CliDeps {
    readonly openStack: OpenStack;
    readonly selectedStack: (projectDir: string) => Promise<string | undefined>;
    readonly pinChange: (io: Io) => Promise<PinChangeDeps>;
    /** The cluster a Kubernetes stack serves on (`kubernetes:kubeconfig` of its stack file), for what `mlops status` reads live. @default not read */
    readonly trafficSwitch?: (kubeconfig: string | undefined) => TrafficSwitch;
}

/** The real engine, cloud and terminal; loaded lazily so that validate and plan stay fast. */
export const defaultDeps: CliDeps = {
    openStack: async (stackName, projectDir) => {
        const { openAutomationStack } = await import("../rollback/automation");
        return openAutomationStack(stackName, projectDir);
    },
    trafficSwitch: lazyTrafficSwitch,
    selectedStack: async (projectDir) => (await import("../rollback/automation")).selectedStackName(projectDir),
    pinChange: (io) => {
        // Each module is loaded when first used: a Kubernetes rollback's
        // instant switch must not wait for the AWS SDK or the mock runtime.
        return Promise.resolve({
            openStack: defaultDeps.openStack,
            verifierFor: (target, settings) => ({
                verify: async (outputs, pinned) => (await import("../rollback/verify")).verifierFor(target, settings).verify(outputs, pinned),
            }),
            trafficSwitch: (settings) => lazyTrafficSwitch(settings.kubeconfig),
            endpointStatus: (region) => {
                const reader = import("../rollback/endpointSettle").then((module) => module.sagemakerStatusReader(region));
                reader.catch(() => undefined);
                return async (endpointName) => (await reader)(endpointName);
            },
            rds: (region) => lazyRdsPorts(region),
            sagemakerWeights: (region) => ({
                describe: async (endpointName) => (await import("../components/endpointVariantWeights")).describeLiveEndpoint(endpointName, region),
                update: async (endpointName, variants) =>
                    (await import("../components/endpointVariantWeights")).updateWeightsAndCapacities(endpointName, variants, region),
            }),
            notify: async (destination, notice) => (await import("../rollback/notify")).notifyDestination(destination, notice),
            confirm: process.stdin.isTTY && process.stderr.isTTY ? askOnTerminal : undefined,
            programOutputNames: async (projectDir, file, stack, rawConfig) => {
                const { userProgramIn } = await import("../plan/userProgram");
                const program = userProgramIn(projectDir, file);
                if (program === undefined) return undefined;
                return (await import("../plan/isolatedRun")).programOutputNames(program, rawConfig, stack);
            },
            stdout: io.stdout,
            // Notices quote the stack's names, the engine's messages and the user's input: none may drive the terminal.
            stderr: (text) => io.stderr(printableLines(text)),
        });
    },
};

/** RDS on the AWS SDK, loaded on its first call. */
function lazyRdsPorts(region: string | undefined): RdsPorts {
    const ports = import("../database/rdsPorts").then((module) => module.awsRdsPorts(region === undefined ? {} : { region }));
    return {
        describeSnapshot: async (kind, identifier) => (await ports).describeSnapshot(kind, identifier),
        describeDatabase: async (kind, identifier) => (await ports).describeDatabase(kind, identifier),
        placementOf: async (kind, identifier) => (await ports).placementOf(kind, identifier),
        restore: async (plan, placement, tags) => (await ports).restore(plan, placement, tags),
    };
}

/** The cluster's API for the instant switch, loaded on its first call. */
function lazyTrafficSwitch(kubeconfig: string | undefined): TrafficSwitch {
    const api = import("../rollback/kubernetesSwitch").then((module) => new module.KubernetesTrafficSwitch(module.kubeConfigFrom(kubeconfig)));
    // Not awaited by anyone until used: keep an early failure (a bad kubeconfig) from being an unhandled rejection.
    api.catch(() => undefined);
    return {
        observe: async (target) => (await api).observe(target),
        switchSelector: async (target) => (await api).switchSelector(target),
        waitForTraffic: async (target, timeoutMs) => (await api).waitForTraffic(target, timeoutMs),
        releaseSelector: async (namespace, serviceName, pinned) => (await api).releaseSelector(namespace, serviceName, pinned),
        serviceState: async (namespace, serviceName) => (await api).serviceState(namespace, serviceName),
    };
}

async function askOnTerminal(question: string): Promise<boolean> {
    const readline = await import("node:readline/promises");
    const terminal = readline.createInterface({ input: process.stdin, output: process.stderr });
    try {
        return /^y(es)?$/i.test((await terminal.question(`${question} [y/N] `)).trim());
    } finally {
        terminal.close();
    }
}

/**
 * Run `mlops` on `argv` (`[node, script, ...args]`) and return the exit code:
 * 0 ok, 1 failed, 2 bad input (a usage error included). Help and `--version`
 * go to `io.stdout`; errors to `io.stderr` as text and, with `--json`, to
 * `io.stdout` as `{ "ok": false, "error": JsonError }`.
 */
export async function main(argv: readonly string[], io: Io = defaultIo, deps: CliDeps = defaultDeps): Promise<number> {
    let exitCode = EXIT_OK;
    const running: Running = {};
    const program = buildProgram(io, deps, running, (code) => {
        exitCode = code;
    });
    const json = argv.includes("--json");
    try {
        checkArguments(argv);
        await program.parseAsync([...argv]);
    } catch (error) {
        if (error instanceof CommanderError) {
            // Help and version are not errors. Every other parse error is a
            // usage error, which commander has printed on stderr with the hint.
            if (error.exitCode === 0) return EXIT_OK;
            if (json) io.stdout(`${printableJson({ ok: false, error: jsonErrorOf(usageErrorOf(error)) })}\n`);
            return EXIT_BAD_INPUT;
        }
        const readable = error instanceof PulumiCliUnavailableError ? new Error(error.sentenceFor(pulumiNeededFor(running.command))) : error;
        return reportError(readable, argv.includes("--debug"), json, io);
    }
    return exitCode;
}

/** Which command runs (set before its action): for the project directory, and errors that read differently by command (a missing pulumi). */
interface Running {
    command?: { readonly name: string; readonly dryRun: boolean };
    /** `--cwd`, given before or after the command's name. */
    cwd?: string;
}

/** A parse error of commander's as a UsageError: its message without commander's `error: `, the flag it names as the key. */
function usageErrorOf(error: CommanderError): UsageError {
    if (error.code === "commander.help") return new UsageError("no command given: run mlops --help for the commands");
    const message = error.message.replace(/^error: /, "");
    return new UsageError(message, /'(--?[A-Za-z][\w-]*)/.exec(message)?.[1]);
}

/**
 * What a command runs the Pulumi CLI for, as the end of "the Pulumi CLI is
 * not on PATH, and ...": status and history read the stack's outputs and
 * update history through it, a dry run previews, deploy and rollback read the
 * stack and run the update.
 */
export function pulumiNeededFor(command: { readonly name: string; readonly dryRun: boolean } | undefined): string {
    if (command?.name === "status") return "mlops status reads the stack's outputs and update history through it";
    if (command?.name === "history") return "mlops history reads the stack's update history through it";
    if (command !== undefined && command.dryRun) return `mlops ${command.name} --dry-run runs the preview through it`;
    if (command?.name === "rollback" || command?.name === "deploy") return `mlops ${command.name} reads the stack and runs the update through it`;
    return "mlops reads the stack through it";
}

/** "Warm" as `validate` states it offline: how many, which (by rule), and what a first deploy takes. */
function describeWarmRule(config: StackConfig, warmOnFirstDeploy: readonly string[]): string {
    if (config.warm === 0) return "no warm version (mlops:warm is 0): a rollback builds its target first";
    const rule =
        config.warm === 1
            ? `1 warm version for rollback: the last to serve on the stack before ${config.pinned} (earlier in the catalog, not quarantined)`
            : `up to ${config.warm} warm versions for rollback: the last ${config.warm} to serve on the stack before ${config.pinned} (earlier in the catalog, not quarantined)`;
    if (warmOnFirstDeploy.length === 0) return `${rule}; none on a first deploy: no earlier version may be pinned`;
    return `${rule}; on a first deploy, when nothing else has served, the catalog's previous: ${warmOnFirstDeploy.join(", ")}`;
}

/**
 * Print `error` (stderr; with `json`, also `{ "ok": false, ...partial, "error": JsonError }` on stdout)
 * and return its exit code. `partial`: what the failed operation did produce, kept beside the error.
 */
function reportError(error: unknown, debug: boolean, json: boolean, io: Io, partial: object = {}): number {
    const message = error instanceof Error ? error.message : String(error);
    // With --json, stdout stays machine-readable even when the command fails.
    if (json) io.stdout(`${printableJson({ ok: false, ...partial, error: jsonErrorOf(error) })}\n`);
    // Messages quote what the user passed (a --version, a key): each line printed so that it cannot drive the terminal.
    io.stderr(`mlops: ${printableLines(message)}\n`);
    if (debug && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
    return error instanceof BadInputError ? EXIT_BAD_INPUT : EXIT_FAILED;
}

/**
 * What every command takes besides its own flags: `--cwd` and `--debug`
 * (also accepted before the command's name), and, after a usage error, the
 * hint to its own help. Root options are positional (`enablePositionalOptions`):
 * after a command's name, `--version <v>` is that command's (the model
 * version), not the root's `--version`.
 */
function commonOptions(command: Command): Command {
    return command
        .option("--cwd <dir>", "the Pulumi project to work on (the folder with its Pulumi.yaml); default: the current directory")
        .option("--debug", "print stack traces with errors")
        .showHelpAfterError(`(run mlops ${command.name()} --help for usage)`);
}

/**
 * `file` (as the user wrote it, relative to where mlops runs: `io.cwd`) as
 * this process opens it. The same text when `io.cwd` is the process's own
 * directory, so that messages name the file as the user wrote it; absolute
 * when `main` runs in-process for another directory (tests).
 */
function openable(file: string, io: Io): string {
    return path.isAbsolute(file) || path.resolve(file) === path.resolve(io.cwd, file) ? file : path.resolve(io.cwd, file);
}

function configSourceOptions(command: Command): Command {
    return command
        .addOption(new Option("--stack <name>", "read the stack's config file, Pulumi.<name>.yaml (in the project's stackConfigDir)").conflicts("configFile"))
        .option("--config-file <path>", "read this Pulumi stack file instead")
        .option("--json", "print machine-readable JSON on stdout");
}

function buildProgram(io: Io, deps: CliDeps, running: Running, setExitCode: (code: number) => void): Command {
    /** The user's Pulumi project: `--cwd`, or the directory mlops runs in. */
    const projectDir = (): string => path.resolve(io.cwd, running.cwd ?? ".");
    const program = new Command()
        .name("mlops")
        .description(
            "Serve ML models on SageMaker or Kubernetes with the version pinned in Pulumi stack config, and roll back by re-pinning an earlier version.",
        )
        .version(packageVersion(), "-V, --version", "print the version of mlops (the mlops-rollback package) and exit")
        .option("--cwd <dir>", "the Pulumi project to work on (the folder with its Pulumi.yaml); default: the current directory")
        .option("--debug", "print stack traces with errors")
        .enablePositionalOptions()
        .showHelpAfterError("(run mlops --help for usage)")
        .addHelpText(
            "after",
            "\nExit codes: 0 ok, 1 the operation failed, 2 bad input or refused (nothing changed). --debug adds stack traces to errors.\n" +
                'With --json, stdout holds one JSON document: {"ok": true, ...} or {"ok": false, "error": {"kind", "message", "key"?, "problems"?}, ...}.',
        )
        .exitOverride()
        // Commander's "error: " reads as mlops's own errors do: "mlops: ".
        .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: (text, write) => write(text.replace(/^error: /, "mlops: ")) });
    program.hook("preAction", (_program, action) => {
        const options = action.opts<{ dryRun?: boolean; cwd?: string }>();
        running.command = { name: action.name(), dryRun: options.dryRun === true };
        running.cwd = options.cwd ?? program.opts<{ cwd?: string }>().cwd;
    });

    configSourceOptions(
        program
            .command("validate")
            .description(
                "Check a stack config offline. Exit 0 when valid, 2 when not, with every problem named by its config key. The summary states the warm rule (the versions that served last before the pin; offline the record is unknown) and what a first deploy keeps warm.",
            )
            .addHelpText(
                "after",
                "\nExit codes: 0 valid, 2 invalid (each problem named by its config key) or unreadable.\n" +
                    "A valid config can still warn (on stderr; --json: warnings[]), e.g. alarms that feed guardrails an Inf1 instance type does not have.\n\nExamples:\n  mlops validate --stack prod\n  mlops validate --config-file Pulumi.prod.yaml --json",
            ),
    ).action((options: ConfigSourceOptions & { json?: boolean }) => {
        const file = resolveConfigFile(options, projectDir(), io.cwd);
        // Numbers spelled in a form YAML readers disagree on show only in the file's source: reported with the schema's problems.
        const { config, problems } = checkStackFile(openable(file, io));
        if (config === undefined || problems.length > 0) {
            // Keys and values come from the file: printed so that none of them can drive the terminal.
            const summary = `${file}: invalid, ${problems.length} problem${problems.length === 1 ? "" : "s"}`;
            if (options.json) {
                const error = jsonErrorOf(new InvalidConfigError(summary, problems));
                io.stdout(`${printableJson({ ok: false, file, error })}\n`);
            }
            io.stderr(
                `${printable(summary)}:\n` +
                    // A message may span lines (YAML to write): each line printable, the later ones indented under the first.
                    problems
                        .map(
                            (p) =>
                                `  ${p.message
                                    .split("\n")
                                    .map((line, index) => printable(index === 0 ? `${p.path}: ${line}` : `    ${line}`))
                                    .join("\n")}\n`,
                        )
                        .join(""),
            );
            setExitCode(EXIT_BAD_INPUT);
            return;
        }
        // Valid, but silently not doing something it seems to (e.g. guardrails on an excluded instance type): exit 0, said on stderr.
        const warnings = [...deploymentPolicyWarnings(config), ...floorAlarmWarnings(config.alarms)];
        if (!options.json) for (const warning of warnings) io.stderr(`warning: ${printable(`${warning.path}: ${warning.message}`)}\n`);
        // Offline there is no serving record: what is warm is said as a rule, plus what a first deploy takes.
        const warmOnFirstDeploy = warmVersions({ ...config, servingHistory: [] });
        if (options.json) {
            const { target, model, pinned, warm } = config;
            io.stdout(`${printableJson({ ok: true, file, target, model, pinned, warm, warmOnFirstDeploy, warnings: keyed(warnings) })}\n`);
        } else {
            // A secret webhook cannot be read offline, and a plain one is shown without the path that holds its token.
            const notify = config.rollback.notify === undefined ? "" : ` Notices go to ${describeNotifyTarget(config.rollback.notify)}.`;
            io.stdout(
                `${printable(`${file}: valid. Model ${config.model} on ${config.target}, pinned ${config.pinned}; ${describeWarmRule(config, warmOnFirstDeploy)}.${notify}`)}\n`,
            );
        }
    });

    configSourceOptions(
        program
            .command("plan")
            .description(
                "Rehearse a pin change (--to) or any config edit (--against) offline: run the program under Pulumi's mock runtime for both configs, and list every create, update, replace and delete.",
            )
            .option("--to <version>", "the version to pin instead of the current one")
            .option("--against <config-file>", "instead of a pin change: compare with this stack config file (e.g. the config as deployed)")
            .addHelpText(
                "after",
                "\nA rollback to a warm version should show no replace and one pointer update: the Endpoint's endpointConfigName (SageMaker), the variant weights (SageMaker, standby: hot), the Service's selector (Kubernetes).\n" +
                    "Which versions are warm follows the stack's serving record (the versions that served there): with --stack, read from the stack where pulumi can;\n" +
                    "otherwise the plan assumes only the pinned version has served, and says so.\n" +
                    "With --against, any edit is planned: a changed alarm threshold should update the alarm and replace nothing.\n" +
                    "Exit codes: 0 planned, 1 the program failed under the mock runtime, 2 bad input (the config, --to, --against).\n" +
                    "Deletes marked 'retained' leave the stack but stay in AWS.\n" +
                    "Both also print a time-to-restore budget (of the version a rollback leaves, a deploy pins, or of the edited config): for each way\n" +
                    "the config restores traffic (SageMaker's guardrails, the alarm trigger, mlops rollback by hand), every step from the first bad data\n" +
                    "point to traffic restored, with a figure from the config, AWS's or Kubernetes' documentation or user reports, or 'not estimated'\n" +
                    "where none is published. BENCHMARKS.md lists the sources.\n\n" +
                    "Examples:\n  mlops plan --stack prod --to 2\n  mlops plan --cwd infra/ml --stack prod --to 2 --json\n" +
                    "  mlops plan --stack prod --against prod-as-deployed.yaml",
            ),
    ).action(async (options: ConfigSourceOptions & { json?: boolean; to?: string; against?: string }) => {
        if ((options.to === undefined) === (options.against === undefined)) {
            throw new UsageError("give exactly one of --to <version> (plan a pin change) or --against <config-file> (plan an edit)");
        }
        const file = resolveConfigFile(options, projectDir(), io.cwd);
        const { raw, config } = loadStackConfig(openable(file, io), file);
        // Loaded here, not at the top: it pulls in the Pulumi SDK and the AWS
        // provider, which would slow every other command down by seconds.
        const { planConfigChange, planPinChange, renderConfigPlan, renderPlan } = await import("../plan/plan");
        const { userProgramIn } = await import("../plan/userProgram");
        // The project's own program, as pulumi up runs it; without a project, what the mlops:* config alone declares.
        const userProgram = userProgramIn(projectDir(), path.resolve(io.cwd, file));
        const programLabel = userProgram === undefined ? "the mlops:* config's resources (no Pulumi.yaml here)" : `the ${userProgram.projectName} program`;
        if (options.against !== undefined) {
            const againstFile = path.resolve(io.cwd, options.against);
            const { raw: againstRaw } = loadStackConfig(againstFile, `--against ${againstFile}`);
            const plan = await planConfigChange(againstRaw, raw, {
                onRun: () => io.stderr(`Running ${programLabel} under Pulumi's mock runtime for both configs...\n`),
                stack: options.stack,
                program: userProgram,
                ...(options.stack === undefined ? {} : await stackRecordOf(options.stack, projectDir(), deps, io)),
            });
            io.stdout(
                options.json
                    ? `${printableJson({ ok: true, ...plan, warnings: keyed(plan.warnings) }, 2)}\n`
                    : `${printableLines(renderConfigPlan(plan, options.against, path.relative(io.cwd, file) || file))}\n`,
            );
            return;
        }
        const to = options.to as string;
        const record = options.stack === undefined ? {} : await stackRecordOf(options.stack, projectDir(), deps, io);
        const plan = await planPinChange(raw, to, {
            onRun: () => io.stderr(`Running ${programLabel} under Pulumi's mock runtime for pin ${config.pinned} and pin ${to}...\n`),
            stack: options.stack,
            program: userProgram,
            ...record,
        });
        if (options.json) {
            const { from, targetWarm, targetStandIn, warmBefore, warmAfter, servingHistory: served, warmStandIn, summary, operations, restoreBudget } = plan;
            const json = {
                ok: true,
                from,
                to: plan.to,
                targetWarm,
                targetStandIn,
                warmBefore,
                warmAfter,
                servingHistory: served,
                warmStandIn,
                summary,
                operations,
                restoreBudget,
            };
            io.stdout(`${printableJson(json, 2)}\n`);
        } else {
            // Resource names and messages come from the user's program.
            io.stdout(`${printableLines(renderPlan(plan, config))}\n`);
        }
    });

    const EXIT_CODES =
        "\nExit codes: 0 done, 1 the update, the preview or the verification failed (or another update holds the stack, or the Pulumi CLI could not be run), 2 bad input or refused (nothing was changed).";

    const pinChangeCommand = (kind: "deploy" | "rollback", command: Command) =>
        command.action(async (options: PinChangeCliOptions) => {
            checkReason(options.reason);
            // Loaded here: the Automation API and the cloud SDKs are heavy.
            const { runPinChange, renderResult, OperationFailedError } = await import("./pinChange");
            const target = await resolveStack(options.stack, projectDir(), deps);
            try {
                const result = await runPinChange(kind, { ...options, ...target, projectDir: projectDir() }, await deps.pinChange(io));
                io.stdout(options.json ? `${printableJson({ ok: true, ...result })}\n` : `${printableLines(renderResult(result))}\n`);
            } catch (error) {
                if (!(error instanceof OperationFailedError)) throw error;
                // What the failed change did report (from, to, result "failed", durationSeconds...) stays beside the error,
                // whose object replaces the result's one-line `error`.
                const partial = (error as { result?: PinChangeResult }).result ?? {};
                if (options.json) io.stdout(`${printableJson({ ok: false, ...partial, error: jsonErrorOf(error) })}\n`);
                io.stderr(`mlops: ${printableLines(error.message)}\n`);
                setExitCode(EXIT_FAILED);
            }
        });

    pinChangeCommand(
        "rollback",
        program
            .command("rollback")
            .description(
                "Pin an earlier version and run the update: by default the version that served just before the pin (warm: the stack keeps a record of what served, and only versions that served, earlier in the catalog and not quarantined, are warm; on a first deploy the catalog's previous version stands in, and mlops says so). The version rolled back from is quarantined, the reason recorded in the update message, what serves is verified, and mlops:rollback.notify is told. On Kubernetes, when the target's pods are ready (hot standby; or a partial standby with mlops:kubernetes.rollbackAtReducedCapacity), traffic moves first, with one compare-and-set write on the Service's selector, and the update then records it; otherwise the update scales the target up and then moves the Service. On SageMaker with mlops:sagemaker.standby hot, a rollback to the standby version moves all weight to its variant with one UpdateEndpointWeightsAndCapacities call (its instance count raised first when it runs fewer than instanceCount), confirmed on DescribeEndpoint, and the update then records it; with standby cold (the default) SageMaker starts a new fleet for the target. After a rollback that did not finish (the stack file pins a version the stack does not run yet), runs that rollback again. An update cut short (engine killed) is repaired first; one mlops run per stack file at a time.",
            )
            .option("--version <version>", "the version to roll back to (default: the version that served just before the pin)")
            .option(
                "--reason <text>",
                `why, on one line (at most ${MAX_REASON_LENGTH} characters); recorded as 'rollback <from> -> <to>: <reason>' in the stack's history`,
            )
            .option("--force", "allow a quarantined target (and release it from the quarantine)")
            .option("--allow-cold", "allow a target outside the warm set (e.g. one that never served on this stack), whose resources must be built first")
            .option(
                "--after-fast-path",
                "SageMaker: the alarm trigger already moved the endpoint to --version; wait until SageMaker is done with it, refresh it, and keep its deployment policy until the next deploy (the trigger's reconcile build passes this)",
            )
            .option(
                "--expect-from <version>",
                "refuse (exit 2, nothing changed) unless the version rolled back from is this one, in the stack file and as last deployed (the trigger passes the version its alarm was about)",
            )
            .option(
                "--restore-database",
                "also restore the database snapshot taken when the version rolled back from went live into a NEW database, and point the model at it (mlops:database.addressEnv); the current database and every snapshot are kept untouched. The dry run names the snapshot, its time and the data it will not have",
            )
            .option("--stack <name>", "the stack (default: the selected one); its config is Pulumi.<name>.yaml in the project's stackConfigDir")
            .option("--yes", "do not ask for confirmation")
            .option("--dry-run", "preview the update only, from an edited copy of the stack file; the stack file itself is never written")
            .option("--json", "print the result as JSON on stdout")
            .addHelpText(
                "after",
                `${EXIT_CODES}\n\nExamples:\n  mlops rollback --stack prod --reason "5xx after v4" --yes\n  mlops rollback --stack prod --version 2 --dry-run\n  mlops rollback --stack prod --version 2 --restore-database --dry-run`,
            ),
    );

    pinChangeCommand(
        "deploy",
        program
            .command("deploy")
            .description(
                "Pin a later version from the catalog and run the update; what serves is verified afterwards. With the pinned version, runs an update to it that did not finish again. An update cut short (engine killed) is repaired first; one mlops run per stack file at a time.",
            )
            .requiredOption("--version <version>", "the version to pin (after the current one in mlops:versions)")
            .option("--reason <text>", `recorded in the update message; one line, at most ${MAX_REASON_LENGTH} characters`)
            .option("--force", "pin a quarantined version again (releases it from the quarantine)")
            .option("--stack <name>", "the stack (default: the selected one); its config is Pulumi.<name>.yaml in the project's stackConfigDir")
            .option("--yes", "do not ask for confirmation")
            .option("--dry-run", "preview the update only, from an edited copy of the stack file; the stack file itself is never written")
            .option("--json", "print the result as JSON on stdout")
            .addHelpText("after", `${EXIT_CODES}\n\nExample:\n  mlops deploy --stack prod --version 5 --yes`),
    );

    program
        .command("status")
        .description(
            "What serves now: the pinned and warm versions, the endpoint, quarantined versions, the last update, and what an update that was cut short left unfinished.",
        )
        .option("--stack <name>", "the stack (default: the selected one)")
        .option("--json", "print JSON on stdout")
        .addHelpText("after", "\nExit codes: 0 ok, 1 the stack could not be read (the Pulumi CLI missing, the backend unreachable), 2 bad input.")
        .action(async (options: { stack?: string; json?: boolean }) => {
            const { loadStatus, renderStatus } = await import("./stackInfo");
            const { stack, file } = await resolveStack(options.stack, projectDir(), deps);
            const kubeconfig = existsSync(file) ? providerSettingsOf(file).kubeconfig : undefined;
            const status = await loadStatus(await deps.openStack(stack, projectDir()), deps.trafficSwitch?.(kubeconfig));
            io.stdout(options.json ? `${printableJson({ ok: true, ...status })}\n` : `${renderStatus(status)}\n`);
        });

    program
        .command("history")
        .description("Every update of the stack: time, kind, pinned version, result and message (with the reason of each rollback).")
        .option("--stack <name>", "the stack (default: the selected one)")
        .option("--json", "print JSON on stdout")
        .addHelpText("after", "\nExit codes: 0 ok, 1 the stack could not be read (the Pulumi CLI missing, the backend unreachable), 2 bad input.")
        .action(async (options: { stack?: string; json?: boolean }) => {
            const { historyEntry, renderHistory } = await import("./stackInfo");
            const { stack } = await resolveStack(options.stack, projectDir(), deps);
            const entries = (await (await deps.openStack(stack, projectDir())).history()).map(historyEntry);
            io.stdout(options.json ? `${printableJson({ ok: true, updates: entries })}\n` : `${renderHistory(entries)}\n`);
        });

    // Last, so that each command's help lists its own flags first.
    for (const command of program.commands) commonOptions(command);
    return program;
}

/**
 * The stack's serving record, which decides what is warm, read from its
 * `mlops` output; undefined (the plan then assumes, and says so) when the
 * stack cannot be read here: no pulumi, no backend, never deployed.
 */
/** What the plan reads of the stack's own record: the versions that served there, and under hot standby the endpoint config it runs. */
async function stackRecordOf(
    stack: string,
    projectDir: string,
    deps: CliDeps,
    io: Io,
): Promise<{ readonly servingHistory?: string[]; readonly endpointVariants?: EndpointVariantsRecord }> {
    try {
        const outputs = await (await deps.openStack(stack, projectDir)).outputs();
        if (Object.keys(outputs).length === 0) return {};
        const { servedVersions, servingRecordOf } = await import("../rollback/servingRecord");
        const { endpointVariantsFromOutput } = await import("../catalog/endpointVariants");
        const endpointVariants = endpointVariantsFromOutput((outputs.sagemaker as { endpointVariants?: unknown } | undefined)?.endpointVariants);
        return { servingHistory: servedVersions(servingRecordOf(outputs)), ...(endpointVariants === undefined ? {} : { endpointVariants }) };
    } catch (error) {
        // The first clause of the reason is enough here: the plan goes on without the stack.
        const reason = (error instanceof Error ? error.message : String(error)).split(/[;\n]/)[0];
        // The reason is the engine's stderr (pulumi stack export): text from outside.
        io.stderr(
            `mlops: could not read stack ${printable(stack)}'s serving record (${printable(reason)}); the plan assumes only the pinned version has served.\n`,
        );
        return {};
    }
}

/** The flags as commander parses them: the flow's options, with the stack still to resolve. */
type PinChangeCliOptions = Omit<PinChangeOptions, "stack" | "file" | "projectDir"> & { readonly stack?: string };

/**
 * The stack and its config file. With --stack nothing outside the project is
 * read (refusals need no pulumi binary); without it, the selected stack is
 * asked of the Pulumi CLI.
 */
async function resolveStack(stack: string | undefined, projectDir: string, deps: CliDeps): Promise<{ stack: string; file: string }> {
    const name = stack ?? (await deps.selectedStack(projectDir));
    if (name === undefined) throw new UsageError("no stack selected; pass --stack <name>");
    return { stack: name, file: stackFilePath(projectDir, name) };
}
