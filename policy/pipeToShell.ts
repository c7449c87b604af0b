/**
 * Does a buildspec run a download unverified: a downloader's output reaching
 * a shell or interpreter, through a pipeline (`curl … | tee f | sh`) or a
 * command or process substitution (`sh -c "$(curl …)"`, `bash <(curl …)`)?
 * A small matcher, not a shell parser: it reads the buildspec as CodeBuild
 * does (YAML, so folded and literal scalars come out as the shell sees them),
 * joins continued lines, splits each line into pipelines outside quotes and
 * substitutions, and names each stage by its command word. It may overstate
 * (a `curl -o file … | sh` is reported), it must not understate.
 *
 * Not seen: a download saved to a file and run later (`curl -o i.sh … && sh
 * i.sh`), which needs data flow; downloads by other tools (`aws s3 cp … -`).
 */
import { parse } from "yaml";

/** Commands whose output is a download. PowerShell's are case-insensitive, and so is every name here. */
const DOWNLOADERS = new Set(["curl", "wget", "fetch", "invoke-webrequest", "iwr", "invoke-restmethod", "irm"]);

/** Run whatever reaches them, on stdin or as an argument. */
const SHELLS = new Set(["sh", "bash", "zsh", "dash", "ash", "ksh", "mksh", "fish", "csh", "tcsh", "pwsh", "powershell", "iex", "invoke-expression"]);

/** Run their argument as code: only a substitution in their arguments counts. */
const EVALUATORS = new Set(["eval", "source", "."]);

/**
 * Run a program from stdin unless told where else to find one: `python3 -`
 * and a bare `python3` do, `python3 -m json.tool`, `python3 -c '…'` and
 * `python3 parse.py` do not.
 */
const INTERPRETERS = new Set(["python", "python2", "python3", "node", "nodejs", "perl", "ruby", "php"]);
const PROGRAM_FLAGS = /^-(?:[cmeEpr]|-eval|-print)$/;

/** Prefixes that run the next word as the command (their options and `NAME=value` words skipped). */
const WRAPPERS = new Set(["sudo", "env", "busybox", "command", "exec", "nohup", "nice", "time", "doas"]);

/** A downloader opening a command or process substitution, or a PowerShell subexpression: `$(curl`, `<(wget`, `` `curl``, `(iwr`. */
const DOWNLOAD_SUBSTITUTION = new RegExp(`(?:\\$\\(|<\\(|\\(|\`)\\s*(?:(?:sudo|env)\\s+)?(?:\\S*/)?(?:${[...DOWNLOADERS].join("|")})(?=[\\s)\`]|$)`, "i");

/** The command strings of a buildspec (YAML text or the parsed object); text that is not YAML is read line by line. */
export function buildspecCommands(buildspec: unknown): string[] {
    let document = buildspec;
    if (typeof buildspec === "string") {
        try {
            document = parse(buildspec);
        } catch {
            return [buildspec];
        }
    }
    const commands: string[] = [];
    // Phases hold `commands` and `finally`; a batch's build graph may nest more: take every such list, at any depth.
    const walk = (node: unknown, key?: string): void => {
        if (Array.isArray(node)) {
            for (const item of node) {
                if ((key === "commands" || key === "finally") && typeof item === "string") commands.push(item);
                else walk(item);
            }
        } else if (typeof node === "object" && node !== null) {
            for (const [name, value] of Object.entries(node)) walk(value, name);
        }
    };
    walk(document);
    return commands;
}

/** The shell lines of one command: backslash-newline and a trailing `|`, `&&` or `||` continue a line, as in the shell. */
export function shellLines(command: string): string[] {
    return command
        .replace(/\\\r?\n/g, " ")
        .replace(/(\||&&)[ \t]*\r?\n/g, "$1 ")
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.startsWith("#"));
}

/**
 * A line's pipelines, each a list of stages: split at `;`, `&&`, `||`, `&`, a newline
 * and (into stages) `|`, but not inside quotes, `$(…)`, `<(…)` or `` `…` ``.
 * A bare `(` or `{` (a group) does not nest: its stages are split too.
 */
export function pipelines(line: string): string[][] {
    const result: string[][] = [];
    let stages: string[] = [];
    let stage = "";
    // What encloses the current character: quotes, backticks, and "(" for a substitution.
    const open: string[] = [];
    const endStage = () => {
        stages.push(stage.trim());
        stage = "";
    };
    for (let i = 0; i < line.length; i++) {
        const char = line[i];
        const next = line[i + 1];
        const top = open[open.length - 1];
        if (top === "'") {
            if (char === "'") open.pop();
        } else if (char === top && char !== "(") open.pop();
        else if (char === ")" && top === "(") open.pop();
        else if ((char === "$" || char === "<" || char === ">") && next === "(" && top !== "'") {
            open.push("(");
            stage += char + next;
            i++;
            continue;
        } else if (char === '"' || char === "`" || (char === "'" && top !== '"')) open.push(char);
        else if (open.length === 0 && (char === ";" || char === "\n" || char === "|" || (char === "&" && !isRedirection(line, i)))) {
            if (char === "|" && next !== "|") {
                // `|&` pipes stderr too.
                if (next === "&") i++;
                endStage();
                continue;
            }
            endStage();
            result.push(stages);
            stages = [];
            if (next === char) i++;
            continue;
        }
        stage += char;
    }
    endStage();
    result.push(stages);
    return result.map((pipeline) => pipeline.filter((one) => one !== "")).filter((pipeline) => pipeline.length > 0);
}

/** Is the `&` at `index` part of a redirection (`2>&1`, `&>file`, `<&3`), not a separator? */
function isRedirection(line: string, index: number): boolean {
    return line[index - 1] === ">" || line[index - 1] === "<" || line[index + 1] === ">";
}

/** Words before the command word that are not it: shell keywords and grouping, `!`. */
const KEYWORDS = new Set(["if", "then", "else", "elif", "while", "until", "do", "!", "{", "(", "}", ")"]);

/** A stage's command word (lowercase, no directory, no version suffix) and its arguments, past keywords, assignments and wrappers. */
export function commandOf(stage: string): { readonly name: string; readonly args: string[] } {
    const words = stage
        .split(/\s+/)
        .map((word) => word.replace(/^["'({]+|["')}]+$/g, ""))
        .filter((word) => word !== "");
    let i = 0;
    const skipNonCommands = () => {
        for (;;) {
            const word = words[i] ?? "";
            // sudo -u USER, sudo -g GROUP: the option's value is not the command.
            if (/^-[ug]$/.test(word)) i += 2;
            else if (word.startsWith("-") || /^[A-Za-z_][A-Za-z0-9_]*=/.test(word) || KEYWORDS.has(word)) i++;
            else return;
        }
    };
    skipNonCommands();
    while (i < words.length && WRAPPERS.has(baseName(words[i]))) {
        i++;
        skipNonCommands();
    }
    return { name: i < words.length ? baseName(words[i]) : "", args: words.slice(i + 1) };
}

function baseName(word: string): string {
    // python3.12 → python3; /usr/bin/env → env. "." (source) stays itself.
    return word === "." ? word : (word.split("/").pop() ?? "").toLowerCase().replace(/(\d)\.\d+$/, "$1");
}

/** Does a stage run what reaches it on stdin as a program? */
function runsStdin(stage: string): boolean {
    const { name, args } = commandOf(stage);
    if (SHELLS.has(name)) return true;
    if (!INTERPRETERS.has(name)) return false;
    // The first argument that is not an option is the program, unless it is "-" (stdin).
    const program = args.find((arg) => !arg.startsWith("-") || arg === "-");
    return !args.some((arg) => PROGRAM_FLAGS.test(arg)) && (program === undefined || program === "-");
}

/** Does a stage run a download it is handed in its arguments (`sh -c "$(curl …)"`, `bash <(curl …)`, `eval "$(curl …)"`)? */
function runsSubstitutedDownload(stage: string): boolean {
    if (!DOWNLOAD_SUBSTITUTION.test(stage)) return false;
    const { name } = commandOf(stage.slice(0, DOWNLOAD_SUBSTITUTION.exec(stage)!.index));
    return SHELLS.has(name) || EVALUATORS.has(name) || INTERPRETERS.has(name);
}

/** Does a stage write a download to stdout: a downloader, or a command printing one it substitutes (`echo "$(curl …)"`)? */
function emitsDownload(stage: string): boolean {
    return DOWNLOADERS.has(commandOf(stage).name) || DOWNLOAD_SUBSTITUTION.test(stage);
}

/** Does a shell line run a download unverified? */
export function runsDownload(line: string): boolean {
    return pipelines(line).some((stages) =>
        stages.some((stage, index) => runsSubstitutedDownload(stage) || (emitsDownload(stage) && stages.slice(index + 1).some(runsStdin))),
    );
}

/** The shell lines of a buildspec (YAML text or object) that run a download unverified, continued lines joined. */
export function pipeToShellLines(buildspec: unknown): string[] {
    return buildspecCommands(buildspec).flatMap(shellLines).filter(runsDownload);
}
